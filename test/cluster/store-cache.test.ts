/**
 * The object cache (-w size=,dir=): writes flagged for the cache are taken by
 * the sheep's cache (bounded: least recently used objects are written back and
 * evicted), `dog vdi cache info` shows them dirty, `dog vdi cache flush` writes
 * them to every copy, after which killing that sheep -9 loses nothing. A clean
 * stop writes the cache back too.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { readVdi, sha } from '../lib/recovery.js';

const MiB = 1024 * 1024;
const VDI = 32 * MiB;
let cluster: TestCluster;
const model = Buffer.alloc(VDI);
/** the cache lives outside the store directory, as on a separate SSD */
const cacheRoot = mkdtempSync(join(tmpdir(), 'store-cache-'));

test.before(async () => {
  cluster = await TestCluster.start({
    nodes: 3, copies: 2, sheepArgs: (i) => (i === 0 ? ['-w', `size=16M,dir=${join(cacheRoot, 'cache0')}`] : []),
  });
  const r = await cluster.dog(['vdi', 'create', 'cached', String(VDI)]);
  assert.is(r.code, 0, r.stderr);
});

test.after(async () => {
  await cluster?.cleanup();
  rmSync(cacheRoot, { recursive: true, force: true });
});

async function cacheInfo(port: number): Promise<string> {
  const r = await cluster.dog(['vdi', 'cache', 'info'], { port });
  assert.is(r.code, 0, r.stderr);
  return r.out;
}

test('a write burst lands in the bounded cache; flush, then kill -9: every byte reads from the others', async () => {
  const data = randomBytes(VDI);
  const r = await cluster.dog(['vdi', 'write', '-w', 'cached'], { input: data });
  assert.is(r.code, 0, r.stderr);
  data.copy(model);
  const info = await cacheInfo(cluster.port(0));
  // the cache holds some of the burst, never more than its 16 MB (how much depends
  // on how far write-back got, which a busy machine changes)
  const row = /^ {2}cached\s+\d+\s+(\S+) MB\s+\S+ MB\n/m.exec(info);
  assert.ok(row && Number(row[1]) > 0 && Number(row[1]) <= 16, `cache info after the burst:\n${info}`);
  const used = /Cache size 16 MB, used (\S+) MB, non-directio/.exec(info);
  assert.ok(used && Number(used[1]) <= 16, info);
  assert.ok(!/ 0\.0 MB\n/.test(info.split('\n')[1]!), `dirty bytes before the flush:\n${info}`);
  // reads through the caching sheep see the cached bytes
  assert.is(sha(await readVdi(cluster, 'cached', cluster.port(0))), sha(model));
  const f = await cluster.dog(['vdi', 'cache', 'flush', 'cached']);
  assert.is(f.code, 0, f.stderr);
  assert.match((await cacheInfo(cluster.port(0))).split('\n')[1]!, / 0\.0 MB$/);
  await cluster.kill9(0);
  await cluster.waitMembers(2, 1);
  assert.is(sha(await readVdi(cluster, 'cached', cluster.port(1))), sha(model));
  assert.is(sha(await readVdi(cluster, 'cached', cluster.port(2))), sha(model));
});

test('a sheep without -w has no cache; a clean stop writes the cache back', async () => {
  const no = await cluster.dog(['vdi', 'cache', 'info'], { port: cluster.port(1) });
  assert.is(no.code, 1);
  assert.match(no.stderr, 'failed to get cache information: No cache object found');
  await waitFor('sheep 0 restarted', () => cluster.startSheep(0).then(() => true), 30_000, 300);
  await cluster.waitMembers(3, 1);
  const part = randomBytes(6 * MiB);
  const r = await cluster.dog(['vdi', 'write', '-w', 'cached', String(5 * MiB), String(part.length)], { input: part });
  assert.is(r.code, 0, r.stderr);
  part.copy(model, 5 * MiB);
  await cluster.stop(0);
  assert.is(sha(await readVdi(cluster, 'cached', cluster.port(1))), sha(model));
});

test.run();
