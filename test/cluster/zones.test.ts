/**
 * Zones: with copies=2 and four sheep in two zones, the two copies of every
 * object sit in different zones, also after a sheep of one zone dies and the
 * cluster recovers.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster } from '../lib/cluster.js';
import { objectHolders, readVdi, sha, waitRecovered } from '../lib/recovery.js';

const MiB = 1024 * 1024;
const zoneOf = (i: number) => (i < 2 ? 0 : 1);
let cluster: TestCluster;
let up = [0, 1, 2, 3];
const data = randomBytes(24 * MiB);

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 4, copies: 2, zones: false, sheepArgs: (i) => ['-z', String(zoneOf(i))] });
  assert.is((await cluster.dog(['vdi', 'create', 'z', '24M'])).code, 0);
  const w = await cluster.dog(['vdi', 'write', 'z'], { input: data });
  assert.is(w.code, 0, w.stderr);
});

test.after(async () => {
  await cluster?.cleanup();
});

function assertZones(): void {
  const holders = objectHolders(cluster, up);
  assert.ok(holders.size >= 6, 'data objects and the inode');
  for (const [name, at] of holders) {
    assert.is(at.length, 2, `${name} has 2 copies (on ${at.join(',')})`);
    assert.is.not(zoneOf(at[0]!), zoneOf(at[1]!), `${name} copies in different zones`);
  }
}

test('the two copies of every object are in different zones', () => {
  assertZones();
});

test('after a sheep of zone 1 dies and recovery ends, still one copy per zone', async () => {
  await cluster.kill9(3);
  up = [0, 1, 2];
  await waitRecovered(cluster, up);
  assertZones();
  assert.is(sha(await readVdi(cluster, 'z')), sha(data));
});

test.run();
