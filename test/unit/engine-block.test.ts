/**
 * A block request whose append failed on the caller's side (the event landed,
 * but its answer was lost, or the append reported an error after writing)
 * must not hold the cluster-wide block for good. Before, block() left its
 * waiter queued when the append threw: the grant of that event went to the
 * abandoned waiter (nobody would unblock), and the next block() of the same
 * member waited behind it forever, as did every blocking op of every member.
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeNode, type SdNode } from '../../shared/node.js';
import type { ClusterHandlers } from '../../sheep/cluster/driver.js';
import { LogClusterDriver } from '../../sheep/cluster/engine.js';
import { MemoryLog, type MemoryBackend } from '../../sheep/cluster/memory.js';
import { Logger } from '../../sheep/log.js';
import { waitFor } from '../lib/cluster.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
/** How long a grant may take here (in-memory log, real timers; a loaded machine is slow, a lost block waits forever). */
const GRANT_MS = 20_000;

class Member implements ClusterHandlers {
  driver!: LogClusterDriver;
  backend!: MemoryBackend;
  members = 0;
  notes: string[] = [];
  constructor(readonly node: SdNode) {}
  join(_n: SdNode, _m: readonly SdNode[], payload: Buffer): Buffer { return payload; }
  accept(_n: SdNode, m: readonly SdNode[]): void { this.members = m.length; }
  leave(_n: SdNode, m: readonly SdNode[]): void { this.members = m.length; }
  notify(_s: SdNode, msg: Buffer): void { this.notes.push(msg.toString()); }
  updateNode(): void {}
  lost(): void {}
}

async function twoMembers(mem: MemoryLog): Promise<[Member, Member]> {
  const ms = [7621, 7622].map((p) => new Member(makeNode('127.0.0.1', p)));
  for (const m of ms) {
    m.backend = mem.backend();
    m.driver = new LogClusterDriver('memory', m.backend, log, async () => '127.0.0.1');
    await m.driver.start(m.node, Buffer.alloc(0), m);
    await waitFor('accepted', () => m.members > 0, GRANT_MS, 5);
  }
  await waitFor('two members', () => ms.every((m) => m.members === 2), GRANT_MS, 5);
  return ms as [Member, Member];
}

/** The next append of `b` writes its event, then fails as if its answer was lost. */
function failNextAppendAfterWriting(b: MemoryBackend, settle: () => Promise<void>): void {
  const append = b.append.bind(b);
  b.append = async (data: Buffer) => {
    b.append = append;
    await append(data);
    await settle();
    throw new Error('connection lost after the event was written');
  };
}

/** Block, then unblock with a message; resolves once the block was granted and released. */
async function blockOnce(m: Member, note: string): Promise<void> {
  await m.driver.block();
  await m.driver.unblock(Buffer.from(note));
}

/** 'granted', or 'still waiting' after GRANT_MS (that timer cleared either way, so the file ends when its tests do). */
async function whenGranted(p: Promise<void>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then(() => 'granted'),
      new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still waiting'), GRANT_MS); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

for (const [what, settle] of [
  ['the grant comes after block() failed', async () => {}],
  // the event is applied (and granted) before the failed append returns
  ['the grant comes while the failing append runs', () => new Promise<void>((resolve) => setTimeout(resolve, 300))],
] as const) {
  test(`a block whose append failed is released (${what})`, async () => {
    const mem = new MemoryLog();
    const [a, b] = await twoMembers(mem);
    try {
      failNextAppendAfterWriting(a.backend, settle);
      await a.driver.block().then(() => assert.unreachable('block() reports the failed append'), (e: Error) => assert.match(e.message, /connection lost/));
      assert.is(await whenGranted(blockOnce(a, 'a again')), 'granted', 'the same member blocks again');
      assert.is(await whenGranted(blockOnce(b, 'b')), 'granted', 'another member blocks');
      await waitFor('both messages everywhere', () => [a, b].every((m) => m.notes.join() === 'a again,b'), GRANT_MS, 5);
    } finally {
      for (const m of [a, b]) await m.driver.stop();
    }
  });
}

test.run();
