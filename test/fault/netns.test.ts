/**
 * Several hosts: four sheep, each in its own network namespace, on a 3-server
 * ZooKeeper ensemble whose servers run on three of those hosts. The hosts hang
 * on a bridge that lives in a namespace of its own. Every address exists only
 * inside these namespaces, and every client (dog, the four-letter probes) runs
 * inside one with `ip netns exec`: nothing in the root namespace talks to them.
 *
 * One host (a ZooKeeper server and a sheep) is cut off by taking its bridge
 * port down, a silent partition: the others keep serving reads and writes, the
 * cut-off sheep stops accepting writes (it loses its session and stops); once
 * the link is back it starts again, rejoins, and every byte reads back through
 * it by sha256.
 *
 * Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN); skipped with a message otherwise.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DOG, forgetPid, pidAlive, recordPid, run, SHEEP, waitFor, type RunResult } from '../lib/cluster.js';
import { ZooKeeper, zookeeperMissing } from '../lib/zookeeper.js';

const HOSTS = 4;
const SUBNET = '10.213.77';
const SHEEP_PORT = 7000;
/** a watchdog failover (1/3) and a leader election fit well inside 2/3 of it */
const SESSION_MS = 8000;
/** Our namespaces carry this prefix and our PID, so a later run can tell a dead run's leftovers. */
const PREFIX = 'sdnt';
const tag = `${PREFIX}${process.pid}`;
const bridgeNs = `${tag}-sw`;
const hostNs = (i: number) => `${tag}-h${i}`;
const hostIp = (i: number) => `${SUBNET}.${i + 1}`;

const created: string[] = [];
const sheepPids = new Map<number, number>();
let zk: ZooKeeper | undefined;
let root = '';
let data: Buffer;
let fresh: Buffer;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Remove namespaces that an earlier run of this file left behind when it died. */
function removeDeadRunsLeftovers(): void {
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!);
  } catch {
    return;
  }
  for (const n of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-(sw|h\\d+)$`).exec(n);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      try { ip('netns', 'del', n); } catch { /* gone */ }
    }
  }
}

/** Why namespaces cannot be used here, or undefined. */
function netnsMissing(): string | undefined {
  const zkm = zookeeperMissing();
  if (zkm) return zkm;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'the ip command (iproute2) is missing';
  }
  removeDeadRunsLeftovers();
  const probe = `${tag}-probe`;
  try {
    ip('netns', 'add', probe);
    ip('-n', probe, 'link', 'add', 'br0', 'type', 'bridge');
  } catch (e) {
    return `network namespaces are not permitted here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()})`;
  } finally {
    try { ip('netns', 'del', probe); } catch { /* not made */ }
  }
  return undefined;
}

function teardownSync(): void {
  for (const [i, pid] of sheepPids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    forgetPid(`netns-sheep${i}`, pid);
  }
  sheepPids.clear();
  for (const n of created.splice(0).reverse()) {
    try { ip('netns', 'del', n); } catch { /* gone */ }
  }
}
process.on('exit', teardownSync);

/** A bridge in its own namespace, and HOSTS namespaces each with one veth port on it. */
function buildNetwork(): void {
  ip('netns', 'add', bridgeNs);
  created.push(bridgeNs);
  ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
  for (let i = 0; i < HOSTS; i++) {
    const ns = hostNs(i);
    ip('netns', 'add', ns);
    created.push(ns);
    // made inside the bridge's namespace, the peer moved straight into the host's
    ip('-n', bridgeNs, 'link', 'add', `port${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', bridgeNs, 'link', 'set', `port${i}`, 'master', 'br0');
    ip('-n', bridgeNs, 'link', 'set', `port${i}`, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${hostIp(i)}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }
}

function setLink(i: number, up: boolean): void {
  ip('-n', bridgeNs, 'link', 'set', `port${i}`, up ? 'up' : 'down');
}

/** dog, run inside host i's namespace against that host's sheep. */
function dog(i: number, args: readonly string[], input?: Buffer): Promise<RunResult> {
  return run('ip', ['netns', 'exec', hostNs(i), DOG, ...args], {
    input,
    env: { SHEEPDOG_DOG_ADDR: hostIp(i), SHEEPDOG_DOG_PORT: String(SHEEP_PORT) },
    timeoutMs: 60_000,
  });
}

/** Members as sheep i lists them (-1 when it does not answer). */
async function members(i: number): Promise<number> {
  const r = await dog(i, ['node', 'list', '-r']);
  return r.code === 0 ? r.out.trim().split('\n').filter(Boolean).length : -1;
}

async function startSheep(i: number): Promise<void> {
  const dir = join(root, `sheep${i}`);
  const pidFile = join(root, `sheep${i}.pid`);
  rmSync(pidFile, { force: true });
  const servers = [0, 1, 2].map((k) => `${hostIp(k)}:2181`).join(',');
  const r = await run('ip', ['netns', 'exec', hostNs(i), SHEEP, dir, '-c', `zookeeper:${servers},timeout=${SESSION_MS}`,
    '-p', String(SHEEP_PORT), '-z', String(i), '-n', '-P', pidFile,
    ...(process.env.SHEEPDOG_TEST_SHEEP_ARGS?.split(' ').filter(Boolean) ?? [])], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`sheep ${i} failed to start (${r.code}): ${r.stderr}`);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  sheepPids.set(i, pid);
  recordPid(`netns-sheep${i}`, pid);
}

const missing = netnsMissing();
const CUT = 2; // a host with a ZooKeeper server and a sheep

test.before(async () => {
  if (missing) return;
  root = mkdtempSync(join(tmpdir(), 'sheepdog-netns-'));
  buildNetwork();
  zk = await ZooKeeper.startEnsemble([0, 1, 2].map((i) => ({ netns: hostNs(i), host: hostIp(i) })));
  for (let i = 0; i < HOSTS; i++) await startSheep(i);
  await waitFor(`${HOSTS} members`, async () => (await members(0)) === HOSTS, 30_000, 200);
  const f = await dog(0, ['cluster', 'format', '-c', '3']);
  if (f.code !== 0) throw new Error(`format failed: ${f.stderr}`);
});

test.after(async () => {
  for (const [i, pid] of sheepPids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await waitFor('sheep to die', () => !pidAlive(pid), 10_000, 50).catch(() => {});
    forgetPid(`netns-sheep${i}`, pid);
  }
  sheepPids.clear();
  await zk?.cleanup();
  teardownSync();
  if (root && !process.env.SHEEPDOG_TEST_KEEP) rmSync(root, { recursive: true, force: true });
  else if (root) console.log(`kept ${root}`);
});

if (missing) {
  console.log(`skip: ${missing}`);
  test.skip('several hosts in network namespaces on a ZooKeeper ensemble', () => {});
} else {
  test('every host sees the others; data written on one host reads back on every host', async () => {
    for (let i = 0; i < HOSTS; i++) assert.is(await members(i), HOSTS, `host ${i}`);
    let r = await dog(0, ['vdi', 'create', 'disk', '4M']);
    assert.is(r.code, 0, r.stderr);
    data = randomBytes(4 * 1024 * 1024);
    r = await dog(1, ['vdi', 'write', 'disk'], data);
    assert.is(r.code, 0, r.stderr);
    for (let i = 0; i < HOSTS; i++) {
      const back = await dog(i, ['vdi', 'read', 'disk']);
      assert.is(back.code, 0, back.stderr);
      assert.is(sha(back.stdout), sha(data), `read on host ${i}`);
    }
  });

  test('a host cut off: the rest keep serving, the cut-off sheep stops accepting writes', async () => {
    setLink(CUT, false);
    const t0 = Date.now();
    // the cut-off sheep cannot reach a ZooKeeper quorum: it gives up its
    // membership, refuses I/O, and keeps trying to join again
    await waitFor('the cut-off sheep to refuse I/O', async () => (await dog(CUT, ['vdi', 'read', 'disk', '0', '512'])).code !== 0,
      SESSION_MS * 4, 100);
    const stoppedAfter = Date.now() - t0;
    const w = await dog(CUT, ['vdi', 'write', 'disk', '0', '512'], randomBytes(512));
    assert.is.not(w.code, 0, 'a write on the cut-off host fails');
    // the others: the session of the cut-off sheep expires, they go on with three
    await waitFor('3 members on the others', async () => (await members(0)) === HOSTS - 1 && (await members(3)) === HOSTS - 1,
      SESSION_MS * 5, 200);
    assert.ok(stoppedAfter < SESSION_MS * 2, `the cut-off sheep stopped after ${stoppedAfter} ms`);
    // old data reads back through every remaining host
    for (const i of [0, 1, 3]) {
      const back = await dog(i, ['vdi', 'read', 'disk']);
      assert.is(back.code, 0, back.stderr);
      assert.is(sha(back.stdout), sha(data), `read on host ${i} during the cut`);
    }
    // old data is overwritten in place (recovery brings it to its new owners)
    const patch = randomBytes(64 * 1024);
    const pw = await dog(3, ['vdi', 'write', 'disk', '65536', String(patch.length)], patch);
    assert.is(pw.code, 0, pw.stderr);
    patch.copy(data, 65536);
    // new data goes in and reads back everywhere
    const c = await dog(0, ['vdi', 'create', 'during-cut', '4M']);
    assert.is(c.code, 0, c.stderr);
    fresh = randomBytes(4 * 1024 * 1024);
    const r = await dog(3, ['vdi', 'write', 'during-cut'], fresh);
    assert.is(r.code, 0, r.stderr);
    for (const i of [0, 1, 3]) {
      const back = await dog(i, ['vdi', 'read', 'during-cut']);
      assert.is(back.code, 0, back.stderr);
      assert.is(sha(back.stdout), sha(fresh), `new data read on host ${i}`);
      const old = await dog(i, ['vdi', 'read', 'disk']);
      assert.is(old.code, 0, old.stderr);
      assert.is(sha(old.stdout), sha(data), `patched old data read on host ${i}`);
    }
  });

  test('the link returns: the host rejoins and reads every byte back', async () => {
    setLink(CUT, true);
    await zk!.waitServing(30_000);
    // no restart: the sheep joins again by itself
    await waitFor(`${HOSTS} members`, async () => (await members(0)) === HOSTS && (await members(CUT)) === HOSTS, 30_000, 200);
    const back = await dog(CUT, ['vdi', 'read', 'disk']);
    assert.is(back.code, 0, back.stderr);
    assert.is(sha(back.stdout), sha(data), 'read on the host that was cut off');
    const back2 = await dog(CUT, ['vdi', 'read', 'during-cut']);
    assert.is(back2.code, 0, back2.stderr);
    assert.is(sha(back2.stdout), sha(fresh), 'data written during the cut, read on the host that was cut off');
  });
}

test.run();
