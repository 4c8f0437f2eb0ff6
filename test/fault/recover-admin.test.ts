/**
 * `dog cluster recover disable|enable|force` with real sheep: a disabled
 * cluster that loses a sheep keeps serving but moves no data until recovery is
 * enabled; a partial restart after shutdown is forced into service.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { objectHolders, readVdi, sha, waitRecovered } from '../lib/recovery.js';

const MiB = 1024 * 1024;
let cluster: TestCluster;
let up = [0, 1, 2, 3];
const data = randomBytes(24 * MiB);

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 4, copies: 3 });
  assert.is((await cluster.dog(['vdi', 'create', 'r', '24M'])).code, 0);
  assert.is((await cluster.dog(['vdi', 'write', 'r'], { input: data })).code, 0);
});

test.after(async () => {
  await cluster?.cleanup();
});

const copyCounts = () => [...objectHolders(cluster, up).values()].map((at) => at.length);

test('recover disable: a death moves no data; enable: copies come back', async () => {
  const d = await cluster.dog(['cluster', 'recover', 'disable']);
  assert.is(d.code, 0, d.stderr);
  assert.is(d.out, 'Cluster recovery: disable\n');
  const info = await cluster.dog(['cluster', 'info']);
  assert.match(info.out, /running, auto-recovery disabled/);
  await cluster.kill9(3);
  up = [0, 1, 2];
  await cluster.waitMembers(3);
  // give a (wrong) recovery every chance to run before looking
  await waitFor('the survivors to settle on the new epoch', async () => {
    const r = await cluster.dog(['node', 'recovery']);
    return r.code === 0;
  }, 10_000);
  assert.ok(copyCounts().some((n) => n < 3), 'some objects are short of a copy while recovery is disabled');
  assert.is(sha(await readVdi(cluster, 'r')), sha(data), 'all data still reads');
  const e = await cluster.dog(['cluster', 'recover', 'enable']);
  assert.is(e.code, 0, e.stderr);
  assert.is(e.out, 'Cluster recovery: enable\n');
  await waitRecovered(cluster, up);
  assert.ok(copyCounts().every((n) => n === 3), 'every object has 3 copies again');
});

test('recover force ends the wait of a partial restart', async () => {
  const bad = await cluster.dog(['cluster', 'recover', 'force', '-f']);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /failed to execute request, Cluster is running\/halted and cannot be force recovered/);
  assert.is((await cluster.dog(['cluster', 'shutdown'])).code, 0);
  for (const i of up) await cluster.waitExited(i);
  await cluster.startSheep(0);
  await cluster.startSheep(1);
  await cluster.waitMembers(2);
  const waiting = await cluster.dog(['cluster', 'info']);
  assert.match(waiting.out, /Waiting for other nodes to join cluster/);
  const f = await cluster.dog(['cluster', 'recover', 'force', '-f']);
  assert.is(f.code, 0, f.stderr);
  up = [0, 1];
  await waitFor('the cluster to run', async () => /Cluster status: running/.test((await cluster.dog(['cluster', 'info'])).out), 20_000);
  assert.is(sha(await readVdi(cluster, 'r')), sha(data));
  // the sheep left out comes back: it rejoins empty and recovers
  await cluster.startSheep(2);
  up = [0, 1, 2];
  await cluster.waitMembers(3);
  await waitRecovered(cluster, up);
  assert.ok(copyCounts().every((n) => n === 3));
  assert.is(sha(await readVdi(cluster, 'r', cluster.port(2))), sha(data));
});

test.run();
