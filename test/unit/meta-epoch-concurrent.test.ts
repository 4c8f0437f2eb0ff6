/**
 * Two recoveries of a sheep that was down for some epochs fetch the same
 * missing epoch record at once and both keep it (issue 13): the two writes of
 * its file must not trip over each other (they shared one temporary file, and
 * the second rename failed with ENOENT, which failed that object's recovery).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeNode } from '../../shared/node.js';
import { MetaStore } from '../../sheep/meta.js';

test('the same epoch record written many times at once: every write succeeds, one file, no temporary left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sheepdog-meta-'));
  const meta = await MetaStore.open(join(dir, 'meta'), dir);
  try {
    const rec = { epoch: 7, nodes: [makeNode('127.0.0.1', 7101), makeNode('127.0.0.1', 7102)], time: 1n };
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => meta.putEpoch(rec)));
    assert.equal(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), []);
    assert.equal(readdirSync(join(dir, 'epoch')), ['00000007']);
    assert.equal((await meta.getEpoch(7))?.nodes.length, 2);
  } finally {
    await meta.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
