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
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../lib/cluster.js';
import { NetnsHosts, netnsMissing, NetnsSheep } from '../lib/netns.js';
import { ZooKeeper } from '../lib/zookeeper.js';

const HOSTS = 4;
const SHEEP_PORT = 7000;
/** a watchdog failover (1/3) and a leader election fit well inside 2/3 of it */
const SESSION_MS = 8000;
const net = new NetnsHosts(HOSTS, '10.213.77');
const hostNs = (i: number) => net.ns(i);
const hostIp = (i: number) => net.ip(i);

let zk: ZooKeeper | undefined;
let root = '';
let sheep: NetnsSheep | undefined;
let data: Buffer;
let fresh: Buffer;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function teardownSync(): void {
  sheep?.killAllSync();
  net.teardown();
}
process.on('exit', teardownSync);

const dog = (i: number, args: readonly string[], input?: Buffer) => sheep!.dog(i, args, input);
const members = (i: number) => sheep!.members(i);

const missing = netnsMissing();
const CUT = 2; // a host with a ZooKeeper server and a sheep

test.before(async () => {
  if (missing) return;
  root = mkdtempSync(join(tmpdir(), 'sheepdog-netns-'));
  net.build();
  zk = await ZooKeeper.startEnsemble([0, 1, 2].map((i) => ({ netns: hostNs(i), host: hostIp(i) })));
  const servers = [0, 1, 2].map((k) => `${hostIp(k)}:2181`).join(',');
  sheep = new NetnsSheep(net, root, SHEEP_PORT, servers, SESSION_MS,
    ['-n', ...(process.env.SHEEPDOG_TEST_SHEEP_ARGS?.split(' ').filter(Boolean) ?? [])]);
  for (let i = 0; i < HOSTS; i++) await sheep.start(i);
  await waitFor(`${HOSTS} members`, async () => (await members(0)) === HOSTS, 30_000, 200);
  const f = await dog(0, ['cluster', 'format', '-c', '3']);
  if (f.code !== 0) throw new Error(`format failed: ${f.stderr}`);
});

test.after(async () => {
  await sheep?.killAll();
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
    net.setLink(CUT, false);
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
    net.setLink(CUT, true);
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
