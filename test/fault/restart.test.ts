/**
 * kill -9 of every sheep at once, then a restart: the cluster comes back
 * without a new epoch and serves every acknowledged byte; a one-sheep cluster
 * comes back on its own.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { readVdi, sha } from '../lib/recovery.js';

const MiB = 1024 * 1024;

async function restartAll(cluster: TestCluster, n: number): Promise<void> {
  // all in the same tick: nobody lives to see the others go
  await Promise.all(Array.from({ length: n }, (_, i) => cluster.kill9(i)));
  for (let i = 0; i < n; i++) await cluster.startSheep(i);
  await cluster.waitMembers(n);
  await waitFor('the cluster to run', async () => /Cluster status: running/.test((await cluster.dog(['cluster', 'info'])).out), 20_000);
}

test('a one-sheep cluster killed -9 serves its data again after a restart', async () => {
  const cluster = await TestCluster.start({ nodes: 1, copies: 1, nosync: false });
  try {
    const data = randomBytes(6 * MiB);
    assert.is((await cluster.dog(['vdi', 'create', 'solo', '8M'])).code, 0);
    assert.is((await cluster.dog(['vdi', 'write', 'solo', '0', String(data.length)], { input: data })).code, 0);
    await restartAll(cluster, 1);
    const back = await readVdi(cluster, 'solo');
    assert.is(sha(back.subarray(0, data.length)), sha(data));
  } finally {
    await cluster.cleanup();
  }
});

test('three sheep killed -9 together come back with every acknowledged write, in the same epoch', async () => {
  const cluster = await TestCluster.start({ nodes: 3, copies: 3, nosync: false });
  try {
    const data = randomBytes(12 * MiB);
    assert.is((await cluster.dog(['vdi', 'create', 'all', '12M'])).code, 0);
    assert.is((await cluster.dog(['vdi', 'write', 'all'], { input: data })).code, 0);
    const epochBefore = (await cluster.dog(['cluster', 'info', '-r'])).out;
    await restartAll(cluster, 3);
    assert.is(sha(await readVdi(cluster, 'all', cluster.port(2))), sha(data));
    const epochAfter = (await cluster.dog(['cluster', 'info', '-r'])).out;
    assert.is(epochAfter.split('\n').length, epochBefore.split('\n').length, 'no new epoch');
  } finally {
    await cluster.cleanup();
  }
});

test.run();
