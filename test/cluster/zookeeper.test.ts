/**
 * The zookeeper cluster driver on a real ZooKeeper server (Debian's package,
 * started here on its own loopback port): the same membership behaviours as
 * the local driver, plus a fast restart under the same address, a session
 * that expires while the sheep is stopped (SIGSTOP), and two clusters apart on
 * one ZooKeeper by their cluster id.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeCount, pidAlive, TestCluster, waitFor } from '../lib/cluster.js';
import { ZooKeeper, zookeeperMissing } from '../lib/zookeeper.js';
import { ZkSession } from '../../sheep/cluster/zk-client.js';

/** Short enough for quick tests, long enough for a busy 2-core machine. */
const SESSION_MS = 3000;
const missing = zookeeperMissing();

let zk: ZooKeeper;
let cluster: TestCluster;
let data: Buffer;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test.before(async () => {
  if (missing) return;
  zk = await ZooKeeper.start();
  cluster = await TestCluster.start({ nodes: 4, copies: 3, driver: `zookeeper:${zk.connectString},timeout=${SESSION_MS}` });
});

test.after(async () => {
  await cluster?.cleanup();
  await zk?.cleanup();
});

if (missing) console.log(`skip: ${missing}`);
const zkTest = (name: string, fn: () => Promise<void>) => (missing ? test.skip(name, fn) : test(name, fn));

zkTest('concurrent VDI creation through every sheep: all agree on every VDI and id', async () => {
  const creates = [];
  for (let n = 0; n < 4; n++) {
    for (let k = 0; k < 6; k++) {
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

zkTest('data written through dog reads back by sha256 through every sheep', async () => {
  let r = await cluster.dog(['vdi', 'create', 'data.img', '8M']);
  assert.is(r.code, 0, r.stderr);
  data = randomBytes(8 * 1024 * 1024);
  r = await cluster.dog(['vdi', 'write', 'data.img'], { input: data });
  assert.is(r.code, 0, r.stderr);
  for (const n of [0, 1, 2, 3]) {
    const back = await cluster.dog(['vdi', 'read', 'data.img'], { port: cluster.port(n) });
    assert.is(back.code, 0, back.stderr);
    assert.is(sha(back.stdout), sha(data), `read through sheep ${n}`);
  }
});

zkTest('kill -9 of a member is seen by the others within about 2 s', async () => {
  await cluster.kill9(3);
  const t0 = Date.now();
  await waitFor('3 members', async () => (await nodeCount(cluster.port(0))) === 3, 8000, 50);
  const secs = (Date.now() - t0) / 1000;
  assert.ok(secs < 2.5, `noticed after ${secs} s`);
  const info = await cluster.dog(['cluster', 'info']);
  assert.match(info.out, /^\S+ \S+\s+2 \[/m, 'a new epoch (2) was started');
});

zkTest('a sheep killed and restarted at once under the same address rejoins (no stale member)', async () => {
  await cluster.startSheep(3);
  await cluster.waitMembers(4);
  const pid = cluster.pids.get(3)!;
  process.kill(pid, 'SIGKILL');
  cluster.pids.delete(3);
  // restart without waiting for anyone to notice: the old session is still open on the server
  await waitFor('the old sheep to be gone', () => !pidAlive(pid), 5000, 20);
  await cluster.startSheep(3);
  await cluster.waitMembers(4);
  await waitFor('sheep 3 to list 4 members', async () => (await nodeCount(cluster.port(3))) === 4, 10_000);
  // every member's view converges on four distinct members, none of them the old process twice
  let list = '';
  await waitFor('sheep 1 to list 4 distinct members', async () => {
    list = (await cluster.dog(['node', 'list', '-r'], { port: cluster.port(1) })).out;
    const addrs = list.trim().split('\n').map((l) => l.split(' ')[1]);
    return addrs.length === 4 && new Set(addrs).size === 4;
  }, 10_000, 100).catch((e) => { throw new Error(`${(e as Error).message}: ${list}`); });
});

zkTest('a registration of the same address from before this machine restarted does not hold a restart up', async () => {
  // what a sheep left in ZooKeeper before a reboot, its session still open
  const old = await ZkSession.connect({ servers: zk.connectString, sessionTimeoutMs: 20_000 });
  try {
    const machine = readFileSync('/etc/machine-id', 'utf8').trim();
    const reg = { machine, boot: 'a-boot-before-this-one', pidns: 'pid:[1]', pid: 1, start: '1', joinSeq: 1, addr: `127.0.0.1:${cluster.port(3)}` };
    await old.create('/sheepdog/member/0000stale0000', Buffer.from(JSON.stringify(reg)), 'ephemeral');
    await cluster.kill9(3);
    const t0 = Date.now();
    await cluster.startSheep(3);
    await cluster.waitMembers(4);
    assert.ok(Date.now() - t0 < 10_000, `rejoined after ${Date.now() - t0} ms`);
    assert.not.ok(await old.exists('/sheepdog/member/0000stale0000'), 'the stale registration was removed');
  } finally {
    await old.close();
  }
});

zkTest('the first member dies: a new sheep can still join (another member accepts it)', async () => {
  await cluster.kill9(0);
  await waitFor('3 members', async () => (await nodeCount(cluster.port(1))) === 3, 8000, 50);
  await cluster.startSheep(0);
  await cluster.waitMembers(4, 1);
  const list = await cluster.dog(['node', 'list', '-r'], { port: cluster.port(0) });
  assert.is(list.out.trim().split('\n').length, 4);
});

zkTest('session expiry: a stopped sheep stops serving when it wakes, the others go on, it rejoins by itself', async () => {
  const pid = cluster.pids.get(2)!;
  process.kill(pid, 'SIGSTOP');
  try {
    // the server expires the session; the others remove the member
    await waitFor('the others to see 3 members', async () => (await nodeCount(cluster.port(1))) === 3, SESSION_MS * 4, 100);
    // and to have started the epoch without it (members are updated just before)
    await waitFor('the epoch without sheep 2', async () => {
      const last = (await cluster.dog(['cluster', 'info', '-r'], { port: cluster.port(1) })).out.split('\n')[2] ?? '';
      return !last.includes(`:${cluster.port(2)}:`);
    }, 10_000, 100);
    const r = await cluster.dog(['vdi', 'create', 'after-expiry', '4M'], { port: cluster.port(1) });
    assert.is(r.code, 0, r.stderr);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // awake, it finds its session gone, drops its membership and joins as a new member
  await waitFor('the others to see 4 members again', async () => (await nodeCount(cluster.port(1))) === 4, 30_000, 100);
  await waitFor('sheep 2 to list 4 members', async () => (await nodeCount(cluster.port(2))) === 4, 10_000);
  assert.ok(pidAlive(pid), 'the same process rejoined');
  const log = readFileSync(`${cluster.dir(2)}/sheep.log`, 'utf8');
  assert.match(log, /cluster membership lost .*joining again/);
  const list = await cluster.dog(['vdi', 'list', '-r', 'after-expiry'], { port: cluster.port(2) });
  assert.is(list.code, 0, list.stderr);
  const back = await cluster.dog(['vdi', 'read', 'data.img'], { port: cluster.port(2) });
  assert.is(back.code, 0, back.stderr);
  assert.is(sha(back.stdout), sha(data), 'data reads back through the rejoined sheep');
});

zkTest('two clusters on one ZooKeeper stay apart by their cluster id', async () => {
  const other = await TestCluster.start({ nodes: 1, copies: 1, driver: `zookeeper:${zk.connectString}/other,timeout=${SESSION_MS}` });
  try {
    assert.is(await nodeCount(other.port(0)), 1);
    assert.is(await nodeCount(cluster.port(1)), 4);
    const l = await other.dog(['vdi', 'list', '-r']);
    assert.is(l.out.trim(), '', 'the other cluster has none of our VDIs');
  } finally {
    await other.cleanup();
  }
});

test.run();
