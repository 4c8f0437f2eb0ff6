/**
 * A hyper volume through sheepfs: dd writes far apart (a 1 PiB volume) grow its
 * B-tree into the second level (leaves of 4 entries through
 * SHEEPDOG_TEST_BTREE_LEAF_ENTRIES, see test/cluster/vdi-hyper-two-level.test.ts),
 * and dog reads them back, as the volume file does after a remount.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster } from '../lib/cluster.js';
import { objectHolders } from '../lib/recovery.js';
import { mountSheepfs, sh, type Mount } from './lib.js';

process.env.SHEEPDOG_TEST_BTREE_LEAF_ENTRIES = '4';

let cluster: TestCluster;
let m: Mount | undefined;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-hyper-'));
const mnt = join(dir, 'mnt');
const vol = join(mnt, 'vdi', 'h', 'volume');
const MiB = 1 << 20;
/** 1 MiB pieces at these MiB offsets: far apart, in no order, two in one object */
const AT = [900_000_000, 12, 300_000_001, 5_000, 777_777_777, 64, 123_456_789, 1, 2, 999_999_000, 40_000_000, 8];
const DOG = join(process.cwd(), 'dog/dog');

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 3, copies: 2 });
  assert.is((await cluster.dog(['vdi', 'create', '-y', 'h', '1P'])).code, 0);
  m = await mountSheepfs(mnt, cluster.port(0));
});

test.after(async () => {
  await m?.cleanup();
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('dd far apart into a hyper volume file; dog and a fresh mount read the same', async () => {
  const src = AT.map(() => randomBytes(MiB));
  for (const [i, at] of AT.entries()) {
    const f = join(dir, `p${i}`);
    writeFileSync(f, src[i]!);
    const r = await sh(`dd if=${f} of=${vol} bs=1M seek=${at} conv=notrunc,fsync status=none`);
    assert.is(r.code, 0, r.stderr);
  }
  const leaves = [...objectHolders(cluster, [0, 1, 2]).keys()].filter((n) => n.startsWith('1'));
  assert.ok(leaves.length >= 3, `leaf objects: ${leaves.join(' ')}`);
  for (const [i, at] of AT.entries()) {
    const r = await cluster.dog(['vdi', 'read', 'h', `${at}M`, '1M']);
    assert.is(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(src[i]!), `piece at ${at} MiB through dog`);
  }
  await m!.cleanup();
  m = await mountSheepfs(mnt, cluster.port(0));
  for (const [i, at] of AT.entries()) {
    const r = await sh(`dd if=${vol} bs=1M skip=${at} count=1 status=none | sha256sum`);
    assert.is(r.out.split(' ')[0], (await sh(`sha256sum ${join(dir, `p${i}`)}`)).out.split(' ')[0], `piece at ${at} MiB through sheepfs`);
  }
  assert.is((await sh(`${DOG} vdi check h -p ${cluster.port(0)} -a 127.0.0.1`)).out, 'finish check&repair h\n');
});

test.run();
