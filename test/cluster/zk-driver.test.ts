/**
 * The zookeeper driver itself, two instances in this process on a real
 * ZooKeeper: one total order of broadcasts, and a session lost to a silent
 * server (SIGSTOP of ZooKeeper): both report it, stop claiming they can
 * serve, and start() again joins anew once the server is back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeNode, nodeAddrString, type SdNode } from '../../shared/node.js';
import type { ClusterHandlers } from '../../sheep/cluster/driver.js';
import { createZookeeperDriver, type ZookeeperDriver } from '../../sheep/cluster/zookeeper.js';
import { LOG, Logger } from '../../sheep/log.js';
import { waitFor } from '../lib/cluster.js';
import { ZooKeeper, zookeeperMissing } from '../lib/zookeeper.js';

const SESSION_MS = 1500;
const missing = zookeeperMissing();
const log = new Logger({ level: LOG.CRIT, dir: '/tmp', format: 'server', dst: 'default', port: 0 });

class Member implements ClusterHandlers {
  driver!: ZookeeperDriver;
  members: string[] = [];
  notes: string[] = [];
  lostReasons: string[] = [];
  selfAccepts = 0;
  constructor(readonly node: SdNode) {}
  join(_n: SdNode, _m: readonly SdNode[], payload: Buffer): Buffer { return payload; }
  accept(_n: SdNode, m: readonly SdNode[], _p: Buffer, self: boolean): void {
    this.members = m.map(nodeAddrString);
    if (self) this.selfAccepts++;
  }
  leave(_n: SdNode, m: readonly SdNode[]): void { this.members = m.map(nodeAddrString); }
  notify(_s: SdNode, msg: Buffer): void { this.notes.push(msg.toString()); }
  updateNode(): void {}
  lost(reason: string): void { this.lostReasons.push(reason); }
}

let zk: ZooKeeper;
const a = new Member(makeNode('127.0.0.1', 1001));
const b = new Member(makeNode('127.0.0.1', 1002));

test.before(async () => {
  if (missing) return;
  zk = await ZooKeeper.start();
  for (const m of [a, b]) {
    m.driver = await createZookeeperDriver(`${zk.connectString}/drivertest,timeout=${SESSION_MS}`, log);
    await m.driver.start(m.node, Buffer.from('hello'), m);
  }
  await waitFor('both members', () => a.members.length === 2 && b.members.length === 2, 10_000, 20);
});

test.after(async () => {
  await a.driver?.stop().catch(() => {});
  await b.driver?.stop().catch(() => {});
  await zk?.cleanup();
});

if (missing) console.log(`skip: ${missing}`);
const zkTest = (name: string, fn: () => Promise<void>) => (missing ? test.skip(name, fn) : test(name, fn));

zkTest('broadcasts from both reach both in one order', async () => {
  const sends = [];
  for (let k = 0; k < 20; k++) {
    sends.push(a.driver.notify(Buffer.from(`a${k}`)), b.driver.notify(Buffer.from(`b${k}`)));
  }
  await Promise.all(sends);
  await waitFor('40 notes on both', () => a.notes.length === 40 && b.notes.length === 40, 10_000, 20);
  assert.equal(a.notes, b.notes);
  assert.ok(a.driver.canServe() && b.driver.canServe());
});

zkTest('a silent ZooKeeper: both give their session up before it can expire, then join again', async () => {
  const pid = zk.servers[0]!.pid!;
  const t0 = Date.now();
  process.kill(pid, 'SIGSTOP');
  try {
    await waitFor('both to report the loss', () => a.lostReasons.length > 0 && b.lostReasons.length > 0, SESSION_MS * 4, 20);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const after = Date.now() - t0;
  assert.ok(after < SESSION_MS * 1.5, `lost after ${after} ms`);
  assert.match(a.lostReasons[0]!, /no answer from ZooKeeper/);
  assert.not.ok(a.driver.canServe(), 'a lost member does not serve');
  const refused = await a.driver.notify(Buffer.from('x')).then(() => false, () => true);
  assert.ok(refused, 'a lost member cannot broadcast');
  for (const m of [a, b]) await m.driver.start(m.node, Buffer.from('again'), m);
  await waitFor('both members again', () => a.selfAccepts === 2 && b.selfAccepts === 2 && a.members.length === 2 && b.members.length === 2,
    SESSION_MS * 6, 20);
  assert.ok(a.driver.canServe() && b.driver.canServe());
  a.notes = [];
  b.notes = [];
  await a.driver.notify(Buffer.from('back'));
  await waitFor('the note on both', () => a.notes.includes('back') && b.notes.includes('back'), 5000, 20);
});

test.run();
