/**
 * A cluster op in flight when this sheep leaves the membership (its session
 * was given up under load, the others removed it) answers CLUSTER_ERROR: it
 * used to wait forever for a block grant or for its own message, which the
 * engine of the new membership never delivers, and the client got no answer.
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resultOf } from '../../shared/errors.js';
import { makeNode, type SdNode } from '../../shared/node.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { ClusterOps } from '../../sheep/cluster-ops.js';
import type { ClusterHandlers } from '../../sheep/cluster/driver.js';
import { LogClusterDriver } from '../../sheep/cluster/engine.js';
import { MemoryLog } from '../../sheep/cluster/memory.js';
import { Logger } from '../../sheep/log.js';
import type { OpContext } from '../../sheep/ops/index.js';
import { waitFor } from '../lib/cluster.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });

class Member implements ClusterHandlers {
  driver!: LogClusterDriver;
  members = 0;
  lostReasons: string[] = [];
  constructor(readonly node: SdNode) {}
  join(_n: SdNode, _m: readonly SdNode[], payload: Buffer): Buffer { return payload; }
  accept(_n: SdNode, m: readonly SdNode[]): void { this.members = m.length; }
  leave(_n: SdNode, m: readonly SdNode[]): void { this.members = m.length; }
  notify(): void {}
  updateNode(): void {}
  lost(reason: string): void { this.lostReasons.push(reason); }
}

async function pair(mem: MemoryLog): Promise<[Member, Member]> {
  const ms = [7701, 7702].map((p) => new Member(makeNode('127.0.0.1', p))) as [Member, Member];
  for (const m of ms) {
    m.driver = new LogClusterDriver('memory', mem.backend(), log, async () => '127.0.0.1');
    await m.driver.start(m.node, Buffer.alloc(0), m);
    await waitFor('accepted', () => m.members > 0, 5_000, 5);
  }
  await waitFor('two members', () => ms.every((m) => m.members === 2), 5_000, 5);
  return ms;
}

/** Resolve with the error code a promise rejects with, or 'pending' if it is still open after a while. */
async function outcome(p: Promise<unknown>, ms = 2_000): Promise<number | 'pending' | 'granted'> {
  return Promise.race([
    p.then(() => 'granted' as const, (e) => resultOf(e)),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms)),
  ]);
}

test('a block request of a stopped engine fails instead of waiting forever', async () => {
  const mem = new MemoryLog();
  const [a, b] = await pair(mem);
  try {
    await a.driver.block(); // a holds the block
    const waiting = b.driver.block();
    waiting.catch(() => {});
    assert.is(await outcome(waiting, 300), 'pending');
    await b.driver.stop();
    assert.is(await outcome(waiting), SD_RES.CLUSTER_ERROR);
  } finally {
    await a.driver.stop();
    await b.driver.stop();
  }
});

test('a block request of a member the others removed fails', async () => {
  const mem = new MemoryLog();
  const [a, b] = await pair(mem);
  try {
    await a.driver.block();
    const waiting = outcome(b.driver.block(), 5_000);
    mem.expire((b.driver as unknown as { id: string }).id);
    await waitFor('b told', () => b.lostReasons.length > 0, 5_000, 5);
    assert.is(await waiting, SD_RES.CLUSTER_ERROR);
  } finally {
    await a.driver.stop();
    await b.driver.stop();
  }
});

test('ops waiting for their own message end with the given result when the membership is abandoned', async () => {
  const s = { log, driver: { notify: async () => {} } } as unknown as OpContext;
  const ops = new ClusterOps(s);
  const req = SdHeader.request(SD_OP.NOTIFY_VDI_DEL, 0, 0);
  const rsp = SdHeader.responseTo(req, SD_RES.SUCCESS, 1);
  const running = ops.run({ kind: 'cluster', main: async () => {} }, req, undefined, rsp);
  assert.is(await outcome(running, 200), 'pending', 'waits for its message');
  ops.abandonWaiting(SD_RES.CLUSTER_ERROR);
  assert.is(await outcome(running), 'granted', 'the op ends');
  assert.is(rsp.result, SD_RES.CLUSTER_ERROR);
});

test.run();
