/**
 * One contract, three backends of the ordered-log engine (sheep/cluster/
 * engine.ts): the in-memory log of the in-process tests, the local driver's
 * files, and a real ZooKeeper. The LogBackend contract (log-backend.ts) is
 * checked directly, then three engines on each backend: the same member
 * lists, one total order of broadcasts, the cluster-wide block granted to one
 * at a time in request order and only once every member has applied what came
 * before it, and a member's leave seen by the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeNode, type SdNode } from '../../shared/node.js';
import type { ClusterHandlers } from '../../sheep/cluster/driver.js';
import { LogClusterDriver } from '../../sheep/cluster/engine.js';
import { LocalBackend } from '../../sheep/cluster/local.js';
import type { LogBackend } from '../../sheep/cluster/log-backend.js';
import { MemoryLog } from '../../sheep/cluster/memory.js';
import { ZkSession } from '../../sheep/cluster/zk-client.js';
import { ZookeeperBackend } from '../../sheep/cluster/zookeeper.js';
import { LOG, Logger } from '../../sheep/log.js';
import { waitFor } from '../lib/cluster.js';
import { ZooKeeper, zookeeperMissing } from '../lib/zookeeper.js';

const log = new Logger({ level: LOG.CRIT, dir: tmpdir(), format: 'server', dst: 'default', port: 0 });
/** How long a backend may take to show a change to another handle. */
const SEEN_MS = 10_000;

/** A backend kind: opens any number of handles on one shared cluster log. */
interface BackendKind {
  name: string;
  missing?: string;
  setup(): Promise<void>;
  open(): Promise<LogBackend>;
  teardown(): Promise<void>;
  /** after every test of the kind */
  finish?(): Promise<void>;
}

function memoryKind(): BackendKind {
  let mem: MemoryLog;
  return {
    name: 'memory',
    async setup() { mem = new MemoryLog(); },
    async open() { return mem.backend(); },
    async teardown() {},
  };
}

function localKind(): BackendKind {
  let dir = '';
  return {
    name: 'local',
    async setup() { dir = mkdtempSync(join(tmpdir(), 'sheepdog-engine-')); },
    async open() {
      const b = new LocalBackend(dir);
      await b.init();
      return b;
    },
    async teardown() { rmSync(dir, { recursive: true, force: true }); },
  };
}

function zookeeperKind(): BackendKind {
  let zk: ZooKeeper | undefined;
  const sessions: ZkSession[] = [];
  let run = 0;
  return {
    name: 'zookeeper',
    missing: zookeeperMissing(),
    async setup() {
      zk ??= await ZooKeeper.start();
      run++;
    },
    async open() {
      const session = await ZkSession.connect({ servers: zk!.connectString, sessionTimeoutMs: 10_000 });
      sessions.push(session);
      const b = new ZookeeperBackend(session, `/contract${run}`, log);
      await b.init();
      return b;
    },
    async teardown() {
      for (const s of sessions.splice(0)) await s.close().catch(() => {});
    },
    async finish() {
      await zk?.cleanup();
    },
  };
}

class Member implements ClusterHandlers {
  driver!: LogClusterDriver;
  members: number[] = [];
  notes: string[] = [];
  left: number[] = [];
  lostReasons: string[] = [];
  constructor(readonly node: SdNode) {}
  join(_n: SdNode, _m: readonly SdNode[], payload: Buffer): Buffer { return payload; }
  accept(_n: SdNode, m: readonly SdNode[]): void { this.members = m.map((n) => n.port); }
  leave(n: SdNode, m: readonly SdNode[]): void {
    this.left.push(n.port);
    this.members = m.map((x) => x.port);
  }
  /** a broadcast with this text takes slowMs to apply here (a format purging a store) */
  slow = '';
  slowMs = 0;
  async notify(_s: SdNode, msg: Buffer): Promise<void> {
    if (msg.toString() === this.slow) await new Promise((r) => setTimeout(r, this.slowMs));
    this.notes.push(msg.toString());
  }
  updateNode(): void {}
  lost(reason: string): void { this.lostReasons.push(reason); }
}

function contract(kind: BackendKind): void {
  const it = (name: string, fn: () => Promise<void>) => {
    const full = `${kind.name}: ${name}`;
    if (kind.missing) test.skip(full, fn);
    else {
      test(full, async () => {
        await kind.setup();
        try {
          await fn();
        } finally {
          await kind.teardown();
        }
      });
    }
  };

  it('append numbers events without gaps; every handle reads the same bytes', async () => {
    const [x, y] = [await kind.open(), await kind.open()];
    const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? x : y).append(Buffer.from(`e${i}`))));
    const sorted = [...seqs].sort((a, b) => a - b);
    assert.is(new Set(seqs).size, 20, 'distinct numbers');
    assert.is(sorted.at(-1)! - sorted[0]! + 1, 20, 'no gaps');
    assert.is(await x.maxSeq(), sorted.at(-1)!);
    for (let i = 0; i < 20; i++) {
      const a = await x.read(seqs[i]!);
      const b = await y.read(seqs[i]!);
      assert.is(a?.toString(), `e${i}`);
      assert.ok(b && a!.equals(b));
    }
    assert.is(await y.read(sorted.at(-1)! + 1), undefined, 'nothing past the end');
  });

  it('a handle far behind the end appends right after it, leaving no gap', async () => {
    const [x, y] = [await kind.open(), await kind.open()];
    const first = await x.append(Buffer.from('x0'));
    let last = first;
    for (let i = 0; i < 60; i++) last = await y.append(Buffer.from(`y${i}`));
    const next = await x.append(Buffer.from('x1'));
    assert.is(next, last + 1, 'the number after the end');
    for (let seq = first; seq <= next; seq++) assert.ok(await y.read(seq), `event ${seq} is there`);
  });

  it('resolve: the first writer wins, everyone gets its content', async () => {
    const [x, y] = [await kind.open(), await kind.open()];
    const seq = await x.append(Buffer.from('join'));
    const [rx, ry] = await Promise.all([x.resolve(seq, Buffer.from('from x')), y.resolve(seq, Buffer.from('from y'))]);
    assert.ok(rx.equals(ry), 'both get the winner');
    assert.ok(['from x', 'from y'].includes(rx.toString()));
    assert.is((await y.readResolution(seq))?.toString(), rx.toString());
    assert.is((await x.resolve(seq, Buffer.from('late'))).toString(), rx.toString(), 'a later resolve gets the winner');
    assert.is(await x.readResolution(seq + 1), undefined);
  });

  it('registry: register, join number, alive, read positions, unregister', async () => {
    const [x, y] = [await kind.open(), await kind.open()];
    await x.register('aaaa000000000001');
    await y.register('bbbb000000000002');
    await x.setJoinSeq('aaaa000000000001', 7);
    const alive = await y.alive();
    assert.is(alive.get('aaaa000000000001'), 7);
    assert.ok(alive.has('bbbb000000000002'));
    assert.is(alive.get('bbbb000000000002'), undefined, 'join number unknown until set');
    assert.equal([...(await y.readSeqs())], [['aaaa000000000001', 7]], 'read position: the join event until one is recorded');
    await x.setReadSeq('aaaa000000000001', 250);
    await y.setJoinSeq('bbbb000000000002', 9);
    const read = await x.readSeqs();
    assert.is(read.get('aaaa000000000001'), 250);
    assert.is(read.get('bbbb000000000002'), 9);
    assert.equal([...(await y.readSeqs(['aaaa000000000001', 'cccc000000000003']))], [['aaaa000000000001', 250]],
      'only the registrations asked for; one that is not there is left out');
    await x.unregister('aaaa000000000001');
    await waitFor('x gone', async () => !(await y.alive()).has('aaaa000000000001'), SEEN_MS, 20);
    assert.ok(!(await y.readSeqs()).has('aaaa000000000001'));
    assert.equal([...(await y.readSeqs(['aaaa000000000001']))], [], 'an unregistered one asked for by name');
  });

  it('trim forgets events below a number; maxSeq stays', async () => {
    const x = await kind.open();
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push(await x.append(Buffer.from(`t${i}`)));
    await x.trim(seqs[3]!);
    assert.is(await x.read(seqs[0]!), undefined);
    assert.is(await x.read(seqs[2]!), undefined);
    assert.is((await x.read(seqs[3]!))?.toString(), 't3');
    assert.is(await x.maxSeq(), seqs[4]!);
  });

  it('onChange is called after another handle appends', async () => {
    const [x, y] = [await kind.open(), await kind.open()];
    let calls = 0;
    y.onChange(() => calls++);
    await x.append(Buffer.from('news'));
    await waitFor('a change notice', () => calls > 0, SEEN_MS, 10);
    await y.close();
  });

  it('three engines: same members, one broadcast order, exclusive block in request order, granted after all applied, a leave', async () => {
    const ms = [7401, 7402, 7403].map((p) => new Member(makeNode('127.0.0.1', p)));
    try {
      for (const m of ms) {
        m.driver = new LogClusterDriver(kind.name, await kind.open(), log, async () => '127.0.0.1');
        await m.driver.start(m.node, Buffer.from('hello'), m);
        await waitFor(`${m.node.port} accepted`, () => m.members.includes(m.node.port), SEEN_MS, 10);
      }
      await waitFor('three members everywhere', () => ms.every((m) => m.members.length === 3), SEEN_MS, 10);
      for (const m of ms) assert.equal(m.members, [7401, 7402, 7403]);

      // the three send at once, each its own broadcasts one after the other
      await Promise.all(ms.map(async (m) => {
        for (let k = 0; k < 10; k++) await m.driver.notify(Buffer.from(`${m.node.port}:${k}`));
      }));
      await waitFor('30 notes everywhere', () => ms.every((m) => m.notes.length === 30), SEEN_MS, 10);
      assert.equal(ms[1]!.notes, ms[0]!.notes);
      assert.equal(ms[2]!.notes, ms[0]!.notes);
      for (const m of ms) {
        const mine = ms[0]!.notes.filter((n) => n.startsWith(`${m.node.port}:`));
        assert.equal(mine, Array.from({ length: 10 }, (_, k) => `${m.node.port}:${k}`), 'a sender\'s broadcasts keep its order');
      }

      // the block: one holder at a time; its unblock message is delivered before the next grant
      let holders = 0;
      const order: number[] = [];
      await Promise.all(ms.map(async (m) => {
        await m.driver.block();
        holders++;
        assert.is(holders, 1, 'one holder at a time');
        order.push(m.node.port);
        await new Promise((r) => setTimeout(r, 20));
        holders--;
        await m.driver.unblock(Buffer.from(`unblock ${m.node.port}`));
      }));
      assert.is(order.length, 3);
      await waitFor('unblock messages everywhere', () => ms.every((m) => m.notes.length === 33), SEEN_MS, 10);
      assert.equal(ms[0]!.notes.slice(30), order.map((p) => `unblock ${p}`), 'each unblock message is delivered before the next grant');
      assert.equal(ms[2]!.notes.slice(30), ms[0]!.notes.slice(30));

      // a member still applying an earlier broadcast holds the grant back: the
      // holder's work must not reach it before it has applied, say, a format
      ms[2]!.slow = 'format';
      ms[2]!.slowMs = 500;
      await ms[0]!.driver.notify(Buffer.from('format'));
      await waitFor('the format applied by its sender', () => ms[0]!.notes.includes('format'), SEEN_MS, 10);
      await ms[0]!.driver.block();
      assert.ok(ms[1]!.notes.includes('format') && ms[2]!.notes.includes('format'), 'every member applied the format before the grant');
      await ms[0]!.driver.unblock(Buffer.from('after format'));
      await waitFor('the unblock message everywhere', () => ms.every((m) => m.notes.at(-1) === 'after format'), SEEN_MS, 10);

      // a member that leaves on purpose: the others see it go
      await ms[1]!.driver.leave();
      await waitFor('the leave seen', () => ms[0]!.left.includes(7402) && ms[2]!.left.includes(7402), SEEN_MS, 10);
      assert.equal(ms[0]!.members, [7401, 7403]);
      assert.equal(ms[2]!.members, [7401, 7403]);
      assert.equal(ms[1]!.lostReasons, [], 'leaving on purpose is not a loss');
    } finally {
      for (const m of ms) await m.driver?.stop().catch(() => {});
    }
  });
}

const KINDS = [memoryKind(), localKind(), zookeeperKind()];
for (const kind of KINDS) {
  if (kind.missing) console.log(`skip ${kind.name}: ${kind.missing}`);
  contract(kind);
}

test.after(async () => {
  for (const kind of KINDS) await kind.finish?.();
});

test.run();
