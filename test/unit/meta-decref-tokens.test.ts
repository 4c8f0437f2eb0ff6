/** The DECREF tokens in a sheep's metadata (issue 13): kept across a reopen, pruned by age. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MetaStore } from '../../sheep/meta.js';

test('a recorded token survives a reopen; pruning forgets the old ones only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sheepdog-meta-'));
  try {
    let meta = await MetaStore.open(join(dir, 'meta'), dir);
    await meta.putDecrefToken(0xffff_0000_0000_0001n, 1000);
    await meta.putDecrefToken(2n, 5000);
    await meta.close();
    meta = await MetaStore.open(join(dir, 'meta'), dir);
    assert.ok(await meta.hasDecrefToken(0xffff_0000_0000_0001n));
    assert.not.ok(await meta.hasDecrefToken(3n));
    await meta.pruneDecrefTokens(2000);
    assert.not.ok(await meta.hasDecrefToken(0xffff_0000_0000_0001n));
    assert.ok(await meta.hasDecrefToken(2n));
    await meta.delDecrefToken(2n);
    assert.not.ok(await meta.hasDecrefToken(2n));
    await meta.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
