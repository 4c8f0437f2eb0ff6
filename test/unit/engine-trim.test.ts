/**
 * The master trims the cluster log, but never past a member that has not read
 * it yet: a member whose handlers are slow (a loaded machine, a peer that does
 * not answer a join's VDI sync) falls behind by more than the events kept, and
 * must still read every event, in order, once it catches up. Before, the
 * master trimmed by its own position, and such a member waited forever for an
 * event that was gone (its cluster ops were never granted the block).
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeNode, type SdNode } from '../../shared/node.js';
import type { ClusterHandlers } from '../../sheep/cluster/driver.js';
import { LogClusterDriver } from '../../sheep/cluster/engine.js';
import { MemoryLog } from '../../sheep/cluster/memory.js';
import { Logger } from '../../sheep/log.js';
import { waitFor } from '../lib/cluster.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
/** More than the engine keeps behind the master (TRIM_KEEP 1000) plus a few trims. */
const EVENTS = 1800;

class Member implements ClusterHandlers {
  driver!: LogClusterDriver;
  members = 0;
  notes: string[] = [];
  lostReasons: string[] = [];
  /** while set, notify() waits for it: a member with slow handlers */
  gate: Promise<void> | undefined;
  constructor(readonly node: SdNode) {}
  join(_n: SdNode, _m: readonly SdNode[], payload: Buffer): Buffer { return payload; }
  accept(_n: SdNode, m: readonly SdNode[]): void { this.members = m.length; }
  leave(_n: SdNode, m: readonly SdNode[]): void { this.members = m.length; }
  async notify(_s: SdNode, msg: Buffer): Promise<void> {
    await this.gate;
    this.notes.push(msg.toString());
  }
  updateNode(): void {}
  lost(reason: string): void { this.lostReasons.push(reason); }
}

test('a member that fell behind by more than the kept events still reads every event', async () => {
  const mem = new MemoryLog();
  const ms = [7601, 7602, 7603].map((p) => new Member(makeNode('127.0.0.1', p)));
  const [master, peer, slow] = ms as [Member, Member, Member];
  try {
    for (const m of ms) {
      m.driver = new LogClusterDriver('memory', mem.backend(), log, async () => '127.0.0.1');
      await m.driver.start(m.node, Buffer.alloc(0), m);
      await waitFor('accepted', () => m.members > 0, 5_000, 5);
    }
    await waitFor('three members', () => ms.every((m) => m.members === 3), 5_000, 5);
    let open!: () => void;
    slow.gate = new Promise((resolve) => { open = resolve; });
    for (let k = 0; k < EVENTS; k++) await master.driver.notify(Buffer.from(`n${k}`));
    await waitFor('the others read everything', () => master.notes.length === EVENTS && peer.notes.length === EVENTS, 20_000, 5);
    assert.ok(slow.notes.length <= 1, 'the slow member is behind');
    slow.gate = undefined;
    open();
    await waitFor('the slow member catches up', () => slow.notes.length === EVENTS, 20_000, 5);
    assert.equal(slow.notes, master.notes);
    assert.equal(slow.lostReasons, []);
  } finally {
    for (const m of ms) await m.driver?.stop();
  }
});

test.run();
