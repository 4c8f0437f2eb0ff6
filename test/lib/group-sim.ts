/**
 * Several members' Group and cluster engine in one process, on one in-memory
 * cluster log and a virtual clock: join, leave, restart, kill and partition
 * are calls, and a run replays exactly from its seed. What Group tells the
 * daemon is recorded per member (trace), so a test checks the decisions, not
 * only the end state.
 */
import { tmpdir } from 'node:os';
import { makeNode, nodeAddrString, type SdNode } from '../../shared/node.js';
import { SD_STATUS } from '../../shared/proto/flags.js';
import { LogClusterDriver } from '../../sheep/cluster/engine.js';
import { MemoryLog, type MemoryBackend } from '../../sheep/cluster/memory.js';
import { Group, type GroupDeps, type GroupEvents } from '../../sheep/group.js';
import { Logger } from '../../sheep/log.js';
import type { EpochRecord, StoredConfig } from '../../sheep/meta.js';
import { seededRandom } from './history.js';
import { VirtualClock } from './virtual-clock.js';

const quiet = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });

/** The part of a sheep's metadata Group reads and writes, kept across a simulated restart. */
export class MemoryMeta {
  config: (StoredConfig & { version: number }) | undefined;
  readonly epochs = new Map<number, EpochRecord>();

  async getConfig() { return this.config; }
  async latestEpoch() { return Math.max(0, ...this.epochs.keys()); }
  async getEpoch(epoch: number) { return this.epochs.get(epoch); }
  async putEpoch(r: EpochRecord) { this.epochs.set(r.epoch, { ...r, nodes: [...r.nodes] }); }
  async clearEpochs() { this.epochs.clear(); }
}

/** The cluster messages of the simulation (what cluster ops' main parts would do). */
type SimMessage = { t: 'format'; ctime: string };

export class SimSheep {
  readonly trace: string[] = [];
  readonly group: Group;
  readonly driver: LogClusterDriver;
  readonly backend: MemoryBackend;
  lost: string | undefined;
  fatal: string | undefined;
  running = true;

  constructor(readonly node: SdNode, readonly meta: MemoryMeta, private readonly sim: SimCluster) {
    const events: GroupEvents = {
      onJoined: async () => { this.trace.push(`joined ${this.group.members.length}`); },
      onMemberJoined: async (n) => { this.trace.push(`member joined ${n.port}`); },
      onNotInLatestEpoch: async (e) => { this.trace.push(`set aside as of ${e}`); },
      onFormattedByJoin: async () => { this.trace.push('formatted by join'); },
      saveConfig: async () => { this.saveConfig(); },
      markRunning: async () => {},
      onServing: () => { this.trace.push(`serving at ${this.group.epoch}`); },
      onEpochChange: (prev) => { this.trace.push(`epoch ${this.group.epoch} after ${prev.length}`); },
      onMemberLeft: (n) => { this.trace.push(`member left ${n.port}`); },
      onMessage: async (_sender, msg) => this.deliver(JSON.parse(msg.toString()) as SimMessage),
      onMembershipLost: (reason) => { this.lost = reason; this.trace.push('membership lost'); },
      fatal: (msg) => { this.fatal = msg; this.trace.push(`fatal ${msg}`); },
    };
    const deps: GroupDeps = {
      log: quiet, meta, opts: { vnodes: 128, gateway: false }, self: node, events,
      now: () => Math.floor(sim.clock.now / 1000),
    };
    this.group = new Group(deps);
    this.backend = sim.log.backend();
    this.driver = new LogClusterDriver('memory', this.backend, quiet, async () => '127.0.0.1', sim.clock);
  }

  get port(): number {
    return this.node.port;
  }

  /** The engine's id in the log (to expire its registration). */
  get id(): string {
    return this.backend.ids.at(-1)!;
  }

  private saveConfig(): void {
    const ci = this.group.cinfo;
    this.meta.config = {
      version: 6, ctime: ci.ctime, flags: ci.flags, copies: ci.nrCopies, defaultStore: ci.defaultStore,
      shutdown: false, copyPolicy: ci.copyPolicy, blockSizeShift: ci.blockSizeShift, space: 0n,
    };
  }

  private async deliver(m: SimMessage): Promise<void> {
    if (m.t === 'format') {
      await this.group.format({
        ctime: BigInt(m.ctime), flags: 0, nrCopies: 3, copyPolicy: 0, blockSizeShift: 22, defaultStore: 'tree',
      });
      this.trace.push('format');
    }
  }

  async start(): Promise<void> {
    await this.group.load();
    await this.driver.start(this.node, this.group.joinPayload(), this.group);
  }

  /** Epoch and members as a line, for comparing sheep. */
  epochLine(epoch = this.group.epoch): string {
    const rec = this.meta.epochs.get(epoch);
    return `${epoch}: ${rec ? rec.nodes.map((n) => n.port).join(',') : '?'}`;
  }

  get serving(): boolean {
    return this.group.status === SD_STATUS.OK;
  }
}

export class SimCluster {
  readonly clock = new VirtualClock();
  readonly log: MemoryLog;
  /** live sheep by port */
  readonly sheep = new Map<number, SimSheep>();
  /** metadata that survives a member's restart, by port */
  private readonly metas = new Map<number, MemoryMeta>();

  constructor(readonly seed?: number) {
    this.log = new MemoryLog({ random: seed === undefined ? undefined : seededRandom(seed) });
  }

  /** Start (or restart, with the metadata it had) the sheep on `port`. */
  async start(port: number): Promise<SimSheep> {
    const meta = this.metas.get(port) ?? new MemoryMeta();
    this.metas.set(port, meta);
    const s = new SimSheep(makeNode('127.0.0.1', port, { nrVnodes: 128, zone: port }), meta, this);
    this.sheep.set(port, s);
    await s.start();
    return s;
  }

  get(port: number): SimSheep {
    const s = this.sheep.get(port);
    if (!s) throw new Error(`no sheep on ${port}`);
    return s;
  }

  /** kill -9: the process is gone (no leave event); the others notice it is not alive. */
  async kill(port: number): Promise<void> {
    const s = this.get(port);
    const id = s.id;
    this.sheep.delete(port);
    s.running = false;
    this.log.expire(id);
    await this.stopDriver(s);
  }

  /** Stop a sheep's engine, advancing the clock meanwhile (its loop may be in a timed wait). */
  async stopDriver(s: SimSheep): Promise<void> {
    let stopped = false;
    const done = s.driver.stop().then(() => { stopped = true; });
    await this.clock.runUntil(`${s.port} stopped`, () => stopped);
    await done;
  }

  /** The sheep keeps running, but the others no longer see it alive (a partition, an expired session). */
  partition(port: number): void {
    this.log.expire(this.get(port).id);
  }

  async format(from: number, ctime = 1_000n): Promise<void> {
    await this.get(from).driver.notify(Buffer.from(JSON.stringify({ t: 'format', ctime: String(ctime) })));
  }

  /** Advance until every listed sheep satisfies `ok`. */
  async until(what: string, ports: number[], ok: (s: SimSheep) => boolean): Promise<void> {
    await this.clock.runUntil(what, () => ports.every((p) => { const s = this.sheep.get(p); return s !== undefined && ok(s); }));
  }

  async stopAll(): Promise<void> {
    for (const s of this.sheep.values()) await this.stopDriver(s);
    this.sheep.clear();
  }

  describe(): string {
    return [...this.sheep.values()].map((s) => `${nodeAddrString(s.node)} epoch ${s.group.epoch} status ${s.group.status} members ${s.group.members.map((n) => n.port)}`).join('\n');
  }
}
