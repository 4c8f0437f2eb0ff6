/**
 * Recovery with a member that sends no object list (issue 13, defect 2): it is
 * stopped (SIGSTOP, longer than a list request waits) while a new sheep joins.
 * The newcomer and the others must not report their recovery complete without
 * its list, else every stale copy is purged once it reports too, and the
 * objects only it held, now owned by the newcomer, are never fetched.
 * copies=1, so each object has one copy and nothing else would hide the loss.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { objectHolders, readVdi, sha, waitRecovered } from '../lib/recovery.js';

const MiB = 1024 * 1024;
const SIZE = 24 * MiB;
/** The newcomer's list request to the stopped sheep times out after RECOVERY_PEER_TIMEOUT_MS (30 s). */
const LIST_FAILURE_WAIT_MS = 90_000;

let cluster: TestCluster;

test.after(async () => { await cluster?.cleanup(); });

test('objects only a silent member held are recovered once it answers; nothing is purged before', async () => {
  cluster = await TestCluster.start({ nodes: 2, copies: 1 });
  assert.is((await cluster.dog(['vdi', 'create', '-z', '20', 'v', String(SIZE)])).code, 0);
  const data = randomBytes(SIZE);
  const w = await cluster.dog(['vdi', 'write', 'v'], { input: data });
  assert.is(w.code, 0, w.stderr);
  const before = objectHolders(cluster, [0, 1]);
  const onSilent = [...before].filter(([, at]) => at.includes(1)).map(([name]) => name);
  assert.ok(onSilent.length > 0, 'sheep 1 holds objects');

  const pid = cluster.pids.get(1)!;
  process.kill(pid, 'SIGSTOP');
  try {
    await cluster.startSheep(2);
    await cluster.waitMembers(3);
    // stopped until the newcomer has given up on its object list
    const log = join(cluster.dir(2), 'sheep.log');
    await waitFor('the newcomer to find no object list from sheep 1',
      () => readFileSync(log, 'utf8').includes(`no object list from 127.0.0.1:${cluster.port(1)}`), LIST_FAILURE_WAIT_MS, 500);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await waitRecovered(cluster, [0, 1, 2], 180_000);
  const after = objectHolders(cluster, [0, 1, 2]);
  const moved = onSilent.filter((name) => after.get(name)?.includes(2));
  for (const name of before.keys()) assert.is(after.get(name)?.length, 1, `${name} has its one copy`);
  assert.ok(moved.length > 0, 'some objects of sheep 1 moved to the newcomer');
  assert.is(sha(await readVdi(cluster, 'v')), sha(data), 'every acknowledged byte reads back');
});

test.run();
