/**
 * The local cluster driver: sheep on one host find each other, see a member's
 * death (kill -9 included) within about 2 s, agree on one total order of
 * cluster operations, and hand the accepting role over when its holder dies.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeCount, TestCluster, waitFor } from '../lib/cluster.js';

let cluster: TestCluster;

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 4, copies: 3 });
});

test.after(async () => {
  await cluster?.cleanup();
});

test('concurrent VDI creation through every sheep: all agree on every VDI and id', async () => {
  const creates = [];
  for (let n = 0; n < 4; n++) {
    for (let k = 0; k < 6; k++) {
      // names that share a hash bucket would collide without one total order
      creates.push(cluster.dog(['vdi', 'create', `v${n}-${k}`, '16M'], { port: cluster.port(n) }));
    }
  }
  const results = await Promise.all(creates);
  for (const r of results) assert.is(r.code, 0, r.stderr);
  const lists = await Promise.all([0, 1, 2, 3].map((n) => cluster.dog(['vdi', 'list', '-r'], { port: cluster.port(n) })));
  const rows = lists[0]!.out.trim().split('\n');
  assert.is(rows.length, 24);
  const vids = new Set(rows.map((r) => r.split(' ')[7]));
  assert.is(vids.size, 24, 'every VDI got its own id');
  for (const l of lists) assert.is(l.out, lists[0]!.out);
});

test('kill -9 of a member is seen by the others within about 2 s', async () => {
  await cluster.kill9(3);
  const t0 = Date.now();
  await waitFor('3 members', async () => (await nodeCount(cluster.port(0))) === 3, 5000, 50);
  const secs = (Date.now() - t0) / 1000;
  assert.ok(secs < 2.5, `noticed after ${secs} s`);
  const info = await cluster.dog(['cluster', 'info']);
  assert.match(info.out, /^\S+ \S+\s+2 \[/m, 'a new epoch (2) was started');
});

test('the first member dies: a new sheep can still join (another member accepts it)', async () => {
  await cluster.kill9(0);
  await waitFor('2 members', async () => (await nodeCount(cluster.port(1))) === 2, 5000, 50);
  await cluster.startSheep(3);
  await cluster.waitMembers(3, 1);
  const list = await cluster.dog(['node', 'list', '-r'], { port: cluster.port(3) });
  assert.is(list.out.trim().split('\n').length, 3);
});

test.run();
