import { randomBytes } from 'node:crypto';
import { assert, SdError } from '../../shared/errors.js';
import { decodeNode, encodeNode, sameNode, type SdNode } from '../../shared/node.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Logger } from '../log.js';
import type { ClusterDriver, ClusterHandlers } from './driver.js';
import type { LogBackend } from './log-backend.js';

/** How often members look for dead members, and readers poll for news. */
export const LIVENESS_INTERVAL_MS = 250;
const POLL_INTERVAL_MS = 200;
/** Events the master keeps behind its own position; it never trims past the slowest member. */
const TRIM_KEEP = 1000;
/** Most events a member behind the log's end reads at once (the batch doubles up to this while it finds events). */
const READ_AHEAD_MAX = 32;
/** Events between two trims by the master, and between two read-position reports of a member. */
const TRIM_EVERY = 200;
/**
 * A block at the head of the queue waits until every member has recorded
 * that it applied the block event: the holder reads their positions first
 * after this long, then twice as long each time up to the most.
 */
const APPLIED_POLL_MIN_MS = 10;
const APPLIED_POLL_MAX_MS = 100;
/**
 * Tries at recording that we applied another's block, a pause growing by
 * RECORD_APPLIED_PAUSE_MS between them: one failed write to a busy ZooKeeper
 * must not end our event loop (and with it our membership); a backend that
 * keeps failing does.
 */
const RECORD_APPLIED_ATTEMPTS = 5;
const RECORD_APPLIED_PAUSE_MS = 200;
/**
 * A dead member's leave is appended by the first living member only; the
 * member k places after it appends one too if the dead member is still
 * listed after k times this long (the first may be stuck or see otherwise).
 * Every member appending its own (99 leaves per death at 100 members, all
 * racing for the same log positions) was most of the log's growth.
 */
export const LEAVE_BACKUP_MS = 5_000;

/** The timers the engine polls and checks liveness with (a test gives a virtual clock). */
export interface EngineTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const REAL_TIMERS: EngineTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

type Event =
  | { t: 'join'; m: string; node: SdNode; payload: Buffer }
  | { t: 'leave'; m: string }
  | { t: 'notify'; m: string; payload: Buffer }
  | { t: 'block'; m: string; r: number }
  | { t: 'unblock'; m: string; payload: Buffer }
  | { t: 'update'; m: string; node: SdNode };

interface Member {
  id: string;
  node: SdNode;
}

/** How a join was settled: by the accepting member, or by a lone joiner itself. */
interface Resolution {
  accepted: boolean;
  /** members found dead by the resolver: they leave just before the join */
  leaves: string[];
  /** members after the join, in acceptance order */
  members: Member[];
  blocks: string[];
  payload: Buffer;
}

function frame(header: object, payload?: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(json.length);
  return Buffer.concat([head, json, payload ?? Buffer.alloc(0)]);
}

function unframe(b: Buffer): { h: Record<string, unknown>; payload: Buffer } {
  const len = b.readUInt32LE(0);
  return { h: JSON.parse(b.subarray(4, 4 + len).toString()), payload: b.subarray(4 + len) };
}

const nodeHex = (n: SdNode) => encodeNode(n).toString('hex');
const hexNode = (s: unknown) => decodeNode(Buffer.from(String(s), 'hex'));

function encodeEvent(e: Event): Buffer {
  switch (e.t) {
    case 'join': return frame({ t: e.t, m: e.m, node: nodeHex(e.node) }, e.payload);
    case 'update': return frame({ t: e.t, m: e.m, node: nodeHex(e.node) });
    case 'notify':
    case 'unblock': return frame({ t: e.t, m: e.m }, e.payload);
    case 'block': return frame({ t: e.t, m: e.m, r: e.r });
    default: return frame({ t: e.t, m: e.m });
  }
}

function decodeEvent(b: Buffer): Event {
  const { h, payload } = unframe(b);
  const m = String(h.m);
  switch (h.t) {
    case 'join': return { t: 'join', m, node: hexNode(h.node), payload };
    case 'update': return { t: 'update', m, node: hexNode(h.node) };
    case 'notify': return { t: 'notify', m, payload };
    case 'unblock': return { t: 'unblock', m, payload };
    case 'block': return { t: 'block', m, r: Number(h.r ?? 0) };
    case 'leave': return { t: 'leave', m };
    default: throw new Error(`unknown cluster event type ${String(h.t)}`);
  }
}

function encodeResolution(r: Resolution): Buffer {
  return frame({
    accepted: r.accepted,
    leaves: r.leaves,
    members: r.members.map((m) => ({ id: m.id, node: nodeHex(m.node) })),
    blocks: r.blocks,
  }, r.payload);
}

function decodeResolution(b: Buffer): Resolution {
  const { h, payload } = unframe(b);
  return {
    accepted: Boolean(h.accepted),
    leaves: (h.leaves as string[]) ?? [],
    members: (h.members as { id: string; node: string }[]).map((m) => ({ id: m.id, node: hexNode(m.node) })),
    blocks: (h.blocks as string[]) ?? [],
    payload,
  };
}

/**
 * Virtual synchrony over an ordered log. Every process applies the same events
 * in sequence order to the same state (members, block queue), so all derive
 * the same membership history. A join is settled by a one-time resolution that
 * carries the state, so a joiner needs no history before its own join event;
 * until it is settled nobody reads past the join. Each member records in its
 * own registration (setReadSeq) that it has applied another's block event; the
 * block is granted when it heads the queue and every member of its time has
 * recorded that or left. The records cost no event in the shared log: an ack
 * event per member (99 appends per block at 100 members, each read by every
 * member) made `dog vdi create` twelve times slower there.
 */
export class LogClusterDriver implements ClusterDriver {
  private readonly id = randomBytes(8).toString('hex');
  private handlers!: ClusterHandlers;
  private self!: SdNode;
  private members: Member[] = [];
  private blocks: string[] = [];
  private isMember = false;
  private pos = 0;
  private joinSeq = 0;
  /** block() calls waiting for the grant, by the request number their block event carries */
  private readonly blockWaiters = new Map<number, { granted: () => void; ended: (e: Error) => void }>();
  private nextBlockRequest = 1;
  /** our own block events not yet unblocked, oldest first: log sequence and request number */
  private ownBlocks: { seq: number; r: number }[] = [];
  private blockGranted = false;
  /** for each of our own block events: the members not yet known to have applied it */
  private readonly unapplied = new Map<number, Set<string>>();
  /** the reading of members' positions for the block at the head of the queue (one at a time) */
  private appliedPoll: Promise<void> | undefined;
  /** ends the applied poll's pause at once (stop) */
  private endPause: (() => void) | undefined;
  private readonly reportedDead = new Set<string>();
  /** dead members another member should report: liveness checks that have seen each one dead */
  private readonly seenDead = new Map<string, number>();
  private wake: (() => void) | null = null;
  private stopped = false;
  /** set by leave(): our own leave event ends membership quietly */
  private leaving = false;
  private loopDone: Promise<void> = Promise.resolve();
  private livenessTimer: unknown;
  private checkingLiveness = false;
  /** the master's trim in progress (one at a time) */
  private trimming: Promise<void> | undefined;
  private processed = 0;
  /** the read position last recorded in our registration */
  private reportedPos = 0;

  constructor(
    readonly name: string,
    private readonly backend: LogBackend,
    private readonly log: Logger,
    private readonly defaultAddr: () => Promise<string>,
    private readonly timers: EngineTimers = REAL_TIMERS,
  ) {
    backend.onChange(() => this.poke());
  }

  localAddr(): Promise<string> {
    return this.defaultAddr();
  }

  memberNodes(): SdNode[] {
    return this.members.map((m) => m.node);
  }

  async start(self: SdNode, joinPayload: Buffer, handlers: ClusterHandlers): Promise<void> {
    this.self = self;
    this.handlers = handlers;
    await this.backend.register(this.id);
    this.joinSeq = await this.backend.append(encodeEvent({ t: 'join', m: this.id, node: self, payload: joinPayload }));
    await this.backend.setJoinSeq(this.id, this.joinSeq);
    this.pos = this.joinSeq;
    this.log.info('cluster', `${this.name}: joining as ${this.id} at event ${this.joinSeq}`);
    this.loopDone = this.loop().catch((e) => {
      this.log.err('cluster', `event loop failed: ${(e as Error).stack ?? e}`);
      this.handlers.lost(`cluster event loop failed: ${(e as Error).message}`);
    });
    this.livenessTimer = this.timers.setInterval(() => {
      // one check at a time: on a loaded machine a scan of 100 registrations can
      // outlast the interval, and overlapping scans only pile up requests
      if (this.checkingLiveness) return;
      this.checkingLiveness = true;
      this.checkLiveness()
        .catch((e) => this.log.warn('cluster', `liveness check failed: ${(e as Error).message}`))
        .finally(() => { this.checkingLiveness = false; });
    }, LIVENESS_INTERVAL_MS);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private waitChange(): Promise<void> {
    return new Promise((resolve) => {
      const t = this.timers.setTimeout(() => { this.wake = null; resolve(); }, POLL_INTERVAL_MS);
      this.wake = () => { this.timers.clearTimeout(t); resolve(); };
    });
  }

  private async loop(): Promise<void> {
    let window = 1;
    while (!this.stopped) {
      // a member that is behind reads the next events at once: one at a time
      // it read about 5 events a second from a loaded ZooKeeper at 100 sheep,
      // and fell behind by minutes while its own block request waited unread
      const batch = await Promise.all(Array.from({ length: window }, (_, i) => this.backend.read(this.pos + i)));
      const found = batch.findIndex((raw) => !raw);
      window = found < 0 ? Math.min(2 * window, READ_AHEAD_MAX) : 1;
      if (found === 0) {
        if (!this.isMember && (await this.backend.maxSeq()) > this.pos) {
          throw new Error(`cluster event ${this.pos} was trimmed before we read it`);
        }
        await this.waitChange();
        continue;
      }
      for (const raw of found < 0 ? batch : batch.slice(0, found)) {
        if (this.stopped) break;
        await this.applyNext(raw!);
      }
    }
  }

  /** Apply the event at our position, move on, and do the bookkeeping every so many events. */
  private async applyNext(raw: Buffer): Promise<void> {
    await this.apply(decodeEvent(raw), this.pos);
    this.pos++;
    if (this.isMember && this.pos - this.reportedPos >= TRIM_EVERY) {
      // advisory: a position not recorded only holds the master's trim back
      await this.recordPosition(this.pos)
        .catch((e) => this.log.warn('cluster', `recording our log position: ${(e as Error).message}`));
    }
    if (++this.processed % TRIM_EVERY === 0 && this.isMaster() && this.pos > TRIM_KEEP && !this.trimming) {
      // beside the loop, not in it: removing a few hundred events from a loaded
      // ZooKeeper took the 100-sheep soak's master over a minute, while every
      // member waited at a join only the master settles
      this.trimming = this.trimBehindMembers()
        .catch((e) => this.log.warn('cluster', `trimming the cluster log: ${(e as Error).message}`))
        .finally(() => { this.trimming = undefined; });
    }
  }

  /** Record in our registration that we have applied every event below seq. */
  private async recordPosition(seq: number): Promise<void> {
    await this.backend.setReadSeq(this.id, seq);
    this.reportedPos = Math.max(this.reportedPos, seq);
  }

  /** recordPosition for a block's holder, who waits for it: retried a few times before it fails the loop. */
  private async recordApplied(seq: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.recordPosition(seq);
        return;
      } catch (e) {
        if (attempt >= RECORD_APPLIED_ATTEMPTS || this.stopped) throw e;
        this.log.warn('cluster', `recording that we applied block ${seq - 1} (try ${attempt}): ${(e as Error).message}`);
        await new Promise<void>((resolve) => { this.timers.setTimeout(resolve, RECORD_APPLIED_PAUSE_MS * attempt); });
      }
    }
  }

  /**
   * Forget events every member has read: below the master's position less
   * TRIM_KEEP, and below the lowest position a member recorded. A member
   * whose position is not known (its registration is being replaced, or it
   * died and its leave is not applied yet) holds the trim back.
   */
  private async trimBehindMembers(): Promise<void> {
    const read = await this.backend.readSeqs();
    let below = this.pos - TRIM_KEEP;
    for (const m of this.members) {
      if (m.id === this.id) continue;
      const at = read.get(m.id);
      if (at === undefined) return;
      below = Math.min(below, at);
    }
    if (below > 0) await this.backend.trim(below);
  }

  private isMaster(): boolean {
    return this.isMember && this.members[0]?.id === this.id;
  }

  private memberIndex(id: string): number {
    return this.members.findIndex((m) => m.id === id);
  }

  private async apply(e: Event, seq: number): Promise<void> {
    if (e.t === 'join') return this.applyJoin(e, seq);
    if (!this.isMember) return; // events between our join and our acceptance were settled for us
    const sender = this.members[this.memberIndex(e.m)];
    switch (e.t) {
      case 'leave':
        if (sender) await this.removeMember(e.m);
        break;
      case 'notify':
        if (sender) await this.handlers.notify(sender.node, e.payload, e.m === this.id);
        break;
      case 'block':
        if (sender) {
          this.blocks.push(e.m);
          if (e.m === this.id) {
            this.ownBlocks.push({ seq, r: e.r });
            this.unapplied.set(seq, new Set(this.members.filter((m) => m.id !== this.id).map((m) => m.id)));
          } else {
            // every event before the block is applied here (events apply in order):
            // its holder may now act on this member, e.g. create an object a
            // format applied late would wipe
            await this.recordApplied(seq + 1);
          }
          this.maybeGrant();
        }
        break;
      case 'unblock':
        if (this.blocks[0] === e.m) {
          this.blocks.shift();
          if (e.m === this.id) {
            this.blockGranted = false;
            this.unapplied.delete(this.ownBlocks.shift()!.seq);
          }
          // an empty message: the release of a block whose caller had given up (maybeGrant)
          if (sender && e.payload.length > 0) await this.handlers.notify(sender.node, e.payload, e.m === this.id);
          this.maybeGrant();
        }
        break;
      case 'update':
        if (sender) {
          sender.node = e.node;
          await this.handlers.updateNode(e.node, this.memberNodes());
        }
        break;
    }
  }

  private async removeMember(id: string): Promise<void> {
    const i = this.memberIndex(id);
    if (i < 0) return;
    const [gone] = this.members.splice(i, 1);
    this.blocks = this.blocks.filter((b) => b !== id);
    for (const waiting of this.unapplied.values()) waiting.delete(id);
    this.reportedDead.delete(id);
    this.seenDead.delete(id);
    if (id === this.id) {
      this.isMember = false;
      this.stopped = true;
      this.endBlockWaiters('this node left the cluster');
      if (!this.leaving) this.handlers.lost('the other members removed this node from the cluster');
      return;
    }
    this.log.info('cluster', `member ${id} left`);
    await this.handlers.leave(gone!.node, this.memberNodes());
    // the block may have been waiting for it: as head of the queue, or to apply it
    this.maybeGrant();
  }

  private maybeGrant(): void {
    // a stopped engine's waiters were ended (endBlockWaiters): an event still being applied grants nothing
    if (this.stopped || this.blockGranted || this.blocks[0] !== this.id) return;
    const head = this.ownBlocks[0];
    assert(head !== undefined, 'our block at the head of the queue is one of ours');
    // granted once every member has applied the events before it
    if (this.unapplied.get(head.seq)!.size > 0) {
      this.pollApplied();
      return;
    }
    const request = head.r;
    this.blockGranted = true;
    const waiter = this.blockWaiters.get(request);
    if (waiter) {
      this.blockWaiters.delete(request);
      waiter.granted();
      return;
    }
    // its block() failed after the event was appended (the append's answer was
    // lost): nobody will unblock it, and every blocking op of the cluster would
    // queue behind it for good
    this.releaseAbandoned(request);
  }

  /**
   * Read the recorded positions of the members yet to apply our block at the
   * head of the queue until each has applied it or left (its leave settles it:
   * a dead member is found by the liveness check), then grant it.
   */
  private pollApplied(): void {
    if (this.appliedPoll) return;
    this.appliedPoll = this.readAppliedUntilDone()
      .finally(() => { this.appliedPoll = undefined; });
  }

  private async readAppliedUntilDone(): Promise<void> {
    let pauseMs = APPLIED_POLL_MIN_MS;
    for (;;) {
      const head = this.ownBlocks[0];
      const waiting = head && this.unapplied.get(head.seq);
      if (this.stopped || this.blockGranted || this.blocks[0] !== this.id || !waiting || waiting.size === 0) return;
      await this.pause(pauseMs);
      pauseMs = Math.min(2 * pauseMs, APPLIED_POLL_MAX_MS);
      try {
        const at = await this.backend.readSeqs([...waiting]);
        for (const [id, pos] of at) if (pos > head.seq) waiting.delete(id);
      } catch (e) {
        this.log.warn('cluster', `reading members' log positions: ${(e as Error).message}`);
      }
      if (waiting.size === 0) this.maybeGrant();
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.timers.setTimeout(() => { this.endPause = undefined; resolve(); }, ms);
      this.endPause = () => { this.timers.clearTimeout(t); this.endPause = undefined; resolve(); };
    });
  }

  /** Unblock, with no message, a granted block whose block() call failed. */
  private releaseAbandoned(request: number): void {
    this.log.warn('cluster', `releasing cluster block request ${request}: its caller gave up`);
    this.backend.append(encodeEvent({ t: 'unblock', m: this.id, payload: Buffer.alloc(0) }))
      .catch((e) => this.log.err('cluster', `releasing an abandoned cluster block: ${(e as Error).message}`));
  }

  /**
   * This engine is no longer a member: block() calls still waiting fail
   * instead of waiting forever (a rejoin runs a new engine; nothing would
   * grant them). Their cluster ops answer CLUSTER_ERROR.
   */
  private endBlockWaiters(why: string): void {
    const waiters = [...this.blockWaiters.values()];
    this.blockWaiters.clear();
    for (const w of waiters) w.ended(new SdError(SD_RES.CLUSTER_ERROR, why));
  }

  private async applyJoin(e: Extract<Event, { t: 'join' }>, seq: number): Promise<void> {
    const mine = e.m === this.id;
    if (!mine && !this.isMember) return; // not ours to settle
    for (;;) {
      const raw = await this.backend.readResolution(seq);
      if (raw) return this.applyResolution(e, decodeResolution(raw));
      await this.tryResolve(e, seq);
      if (this.stopped) return;
      await this.waitChange();
    }
  }

  /** Settle a pending join if it is ours to settle. */
  private async tryResolve(e: Extract<Event, { t: 'join' }>, seq: number): Promise<void> {
    const alive = await this.backend.alive();
    if (this.isMember) {
      const dead = this.members.filter((m) => m.id !== this.id && !alive.has(m.id)).map((m) => m.id);
      const living = this.members.filter((m) => !dead.includes(m.id));
      if (living[0]?.id !== this.id) return;
      const joinerAlive = alive.has(e.m);
      const clash = living.some((m) => sameNode(m.node, e.node));
      let payload = Buffer.alloc(0);
      const accepted = joinerAlive && !clash;
      if (clash) this.log.err('cluster', `refusing join of ${e.m}: a live member already uses that address`);
      if (accepted) payload = Buffer.from(this.handlers.join(e.node, living.map((m) => m.node), e.payload));
      const members = accepted ? [...living, { id: e.m, node: e.node }] : living;
      await this.backend.resolve(seq, encodeResolution({
        accepted, leaves: dead, members, blocks: this.blocks.filter((b) => !dead.includes(b)), payload,
      }));
      return;
    }
    // our own join: settle it ourselves only when nobody who joined before us is alive
    const earlier = [...alive].filter(([id, s]) => id !== this.id && (s === undefined || s < seq));
    if (earlier.length > 0) return;
    this.log.info('cluster', 'no live member: starting the cluster membership alone');
    await this.backend.resolve(seq, encodeResolution({
      accepted: true, leaves: [], members: [{ id: this.id, node: this.self }], blocks: [], payload: e.payload,
    }));
  }

  private async applyResolution(e: Extract<Event, { t: 'join' }>, r: Resolution): Promise<void> {
    if (e.m === this.id) {
      if (!r.accepted) {
        this.stopped = true;
        this.endBlockWaiters('the cluster refused our join');
        this.handlers.lost('the cluster refused our join (another live sheep uses this address)');
        return;
      }
      this.members = r.members.map((m) => ({ id: m.id, node: m.node }));
      this.blocks = [...r.blocks];
      this.isMember = true;
      this.log.info('cluster', `joined: ${this.members.length} members`);
      await this.handlers.accept(e.node, this.memberNodes(), r.payload, true);
      return;
    }
    for (const id of r.leaves) await this.removeMember(id);
    if (!r.accepted) return;
    this.members.push({ id: e.m, node: e.node });
    await this.handlers.accept(e.node, this.memberNodes(), r.payload, false);
  }

  private async checkLiveness(): Promise<void> {
    if (!this.isMember || this.stopped) return;
    // only members known before the snapshot: one that joins while alive() runs
    // registered before its join event, but after our snapshot was taken
    const known = [...this.members];
    let alive: Map<string, number | undefined>;
    try {
      alive = await this.backend.alive();
    } catch (err) {
      this.log.warn('cluster', `liveness check failed: ${(err as Error).message}`);
      return;
    }
    const listed = (id: string) => this.members.some((x) => x.id === id);
    for (const id of this.seenDead.keys()) if (!listed(id) || alive.has(id)) this.seenDead.delete(id);
    const living = known.filter((m) => m.id === this.id || alive.has(m.id));
    const rank = living.findIndex((m) => m.id === this.id);
    for (const m of known) {
      if (!listed(m.id)) continue;
      if (m.id === this.id || alive.has(m.id) || this.reportedDead.has(m.id)) continue;
      const checks = (this.seenDead.get(m.id) ?? 0) + 1;
      this.seenDead.set(m.id, checks);
      // the later members wait rank x LEAVE_BACKUP_MS from their first sighting
      if (rank !== 0 && (checks - 1) * LIVENESS_INTERVAL_MS < rank * LEAVE_BACKUP_MS) continue;
      this.reportedDead.add(m.id);
      this.seenDead.delete(m.id);
      this.log.warn('cluster', `member ${m.id} is gone${rank === 0 ? '' : ' (reported by a later member: the first did not)'}`);
      await this.backend.append(encodeEvent({ t: 'leave', m: m.id }));
      await this.backend.unregister(m.id);
    }
  }

  async notify(msg: Buffer): Promise<void> {
    await this.backend.append(encodeEvent({ t: 'notify', m: this.id, payload: msg }));
  }

  async block(): Promise<void> {
    if (this.stopped) throw new SdError(SD_RES.CLUSTER_ERROR, 'not in the cluster');
    const request = this.nextBlockRequest++;
    let wasGranted = false;
    const granted = new Promise<void>((resolve, reject) => {
      this.blockWaiters.set(request, { granted: () => { wasGranted = true; resolve(); }, ended: reject });
    });
    granted.catch(() => {}); // awaited below: an end while the append runs is handled there
    try {
      await this.backend.append(encodeEvent({ t: 'block', m: this.id, r: request }));
    } catch (e) {
      // the event may still have been appended: a grant after this finds no
      // waiter and is released; one that came while the append ran is released here
      this.blockWaiters.delete(request);
      if (wasGranted) this.releaseAbandoned(request);
      throw e;
    }
    await granted;
  }

  blockState(): string {
    const queue = this.blocks.map((b) => (b === this.id ? 'us' : b)).join(',');
    const head = this.ownBlocks[0];
    const unapplied = head ? `, ${this.unapplied.get(head.seq)?.size ?? 0} members yet to apply our block ${head.seq}` : '';
    return `member ${this.id}, read up to event ${this.pos}, block queue [${queue}], granted ${this.blockGranted}, ${this.blockWaiters.size} waiting${unapplied}`;
  }

  async unblock(msg: Buffer): Promise<void> {
    await this.backend.append(encodeEvent({ t: 'unblock', m: this.id, payload: msg }));
  }

  async updateNode(node: SdNode): Promise<void> {
    this.self = node;
    await this.backend.append(encodeEvent({ t: 'update', m: this.id, node }));
  }

  async leave(): Promise<void> {
    this.leaving = true;
    if (this.isMember) await this.backend.append(encodeEvent({ t: 'leave', m: this.id }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.endBlockWaiters('the cluster driver stopped');
    if (this.livenessTimer !== undefined) this.timers.clearInterval(this.livenessTimer);
    this.poke();
    this.endPause?.();
    await this.loopDone;
    await this.trimming;
    await this.appliedPoll;
    await this.backend.unregister(this.id).catch(() => {});
    await this.backend.close();
  }
}
