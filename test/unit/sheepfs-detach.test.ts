/**
 * sheepfs's vdi/unmount with the object cache on (issue 13, defect 6): a failed
 * cache flush fails the detach with EIO and the volume stays attached, as the
 * original; a flush that works detaches. Stub link and catalogue.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SdError } from '../../shared/errors.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { CachedWrites } from '../../sheepfs/cached-writes.js';
import type { Catalogue } from '../../sheepfs/catalogue.js';
import { E } from '../../sheepfs/errno.js';
import { errnoOf } from '../lib/fs-errno.js';
import type { SheepLink } from '../../sheepfs/link.js';
import { Tree, type Entry } from '../../sheepfs/tree.js';

/** Write a control file's text. */
function write(e: Entry, text: string): Promise<void> {
  assert.is(e.kind, 'control');
  return (e as Extract<Entry, { kind: 'control' }>).write(text);
}

function treeWith(answer: () => number | Error) {
  const sent: number[] = [];
  const link = {
    cached: new CachedWrites(),
    request: async (h: SdHeader) => {
      sent.push(h.opcode);
      const a = answer();
      if (a instanceof Error) throw a;
      return { hdr: SdHeader.responseTo(h, a, 1), data: Buffer.alloc(0) };
    },
  } as unknown as SheepLink;
  const catalogue = {
    invalidate() {},
    listing: async () => ({ working: new Map([['one.img', { vid: 0xabc }]]), all: [] }),
  } as unknown as Catalogue;
  const tree = new Tree(link, catalogue, { pageCache: false, objectCache: true, log: () => {} });
  return { tree, sent };
}


test('a failed flush fails the detach and keeps the volume attached', async () => {
  for (const answer of [() => SD_RES.EIO, () => new SdError(SD_RES.NETWORK_ERROR, 'no sheep answered')]) {
    const { tree, sent } = treeWith(answer);
    await write(tree.attachFile(), 'one.img\n');
    assert.is(await errnoOf(write(tree.detachFile(), 'one.img\n')), E.EIO);
    assert.equal(sent, [SD_OP.FLUSH_DEL_CACHE]);
    assert.ok(tree.attached.has('one.img'));
  }
});

test('a flush that works detaches', async () => {
  const { tree } = treeWith(() => SD_RES.SUCCESS);
  await write(tree.attachFile(), 'one.img\n');
  assert.is(await errnoOf(write(tree.detachFile(), 'one.img\n')), 0);
  assert.not.ok(tree.attached.has('one.img'));
});

test.run();
