/**
 * sheepfs's way to the cluster: requests go to one sheep (the one given with
 * -a/-p, or set through config/sheep_info) over a few multiplexed connections.
 * When that sheep stops answering, requests move to another member from the
 * last node list; when none answers, a request fails after `opDeadlineMs`
 * instead of hanging, and the next one tries them all again. Every request
 * sheepfs sends is idempotent (reads, writes at fixed offsets, creations of
 * the same data), so a retry after a lost reply is safe.
 */
import { SheepConnection, targetString, type Reply } from '../shared/client.js';
import { CachedWrites } from './cached-writes.js';
import { SdError } from '../shared/errors.js';
import { decodeNodes, nodeIoTarget, SD_MAX_NODES, SD_NODE_SIZE, type SdNode } from '../shared/node.js';
import { oidToVid } from '../shared/oid.js';
import { SD_FLAG } from '../shared/proto/flags.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import { GATEWAY_REQUEST_MAX_MS } from '../shared/timeouts.js';

export interface HostPort { host: string; port: number }

export interface LinkLimits {
  /** total time one request may take, retries included (fuse-native gives up at its own timeout) */
  opDeadlineMs: number;
  /** time one attempt on one sheep may take before the connection counts as dead */
  tryTimeoutMs: number;
  /**
   * The same two for a write (a request carrying data). One attempt outlives
   * the sheep's gateway (GATEWAY_REQUEST_MAX_MS): a write is given up on, or
   * sent elsewhere, only once the first sheep can no longer make it land.
   */
  writeDeadlineMs: number;
  writeTryTimeoutMs: number;
  connectTimeoutMs: number;
  /** sockets per sheep: requests are spread over them */
  connectionsPerSheep: number;
}

const WRITE_TRY_TIMEOUT_MS = GATEWAY_REQUEST_MAX_MS + 3_000;

export const DEFAULT_LIMITS: LinkLimits = {
  opDeadlineMs: 12_000,
  tryTimeoutMs: 6_000,
  writeDeadlineMs: WRITE_TRY_TIMEOUT_MS + 5_000,
  writeTryTimeoutMs: WRITE_TRY_TIMEOUT_MS,
  connectTimeoutMs: 2_000,
  connectionsPerSheep: 4,
};

/** How long FUSE waits for one operation (EIO after it): longer than every deadline of the link. */
export const FUSE_OP_TIMEOUT_MS = Math.max(DEFAULT_LIMITS.opDeadlineMs, DEFAULT_LIMITS.writeDeadlineMs) + 4_000;

/** Results that say "this sheep cannot serve now": try again (elsewhere) until the deadline. */
const TRANSIENT: ReadonlySet<number> = new Set([
  SD_RES.NETWORK_ERROR, SD_RES.OLD_NODE_VER, SD_RES.NEW_NODE_VER, SD_RES.WAIT_FOR_JOIN,
  SD_RES.WAIT_FOR_FORMAT, SD_RES.KILLED, SD_RES.SHUTDOWN, SD_RES.HALT, SD_RES.AGAIN,
  SD_RES.STARTUP, SD_RES.INVALID_EPOCH, SD_RES.NODE_IN_RECOVERY,
]);
const RETRY_PAUSE_MS = 150;
/** While no sheep answers, one attempt per sheep, each this short (a stopped sheep accepts but never replies). */
const UNREACHABLE_TRY_MS = 2_000;
/** How often the member list is refreshed while things work. */
const NODE_LIST_REFRESH_MS = 10_000;

const key = (t: HostPort): string => `${t.host}:${t.port}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class SheepLink {
  /** candidates in preference order: the chosen sheep first, then the members last seen */
  private members: HostPort[] = [];
  private readonly conns = new Map<string, (Promise<SheepConnection> | undefined)[]>();
  /** the slots of `conns` whose connection is up, taken without a timer or a promise */
  private readonly up = new Map<string, (SheepConnection | undefined)[]>();
  private rr = 0;
  private lastRefresh = 0;
  private closed = false;
  /** the last request found no sheep at all */
  private unreachable = false;
  /** the sheep currently used; moves on failure */
  private current: HostPort;
  /** writes acknowledged from a sheep's object cache, not flushed yet */
  readonly cached = new CachedWrites();

  constructor(private primary: HostPort, readonly limits: LinkLimits = DEFAULT_LIMITS) {
    this.current = primary;
  }

  /** The sheep given by the user (config/sheep_info shows it). */
  get target(): HostPort {
    return this.primary;
  }

  /** Switch to another sheep (config/sheep_info): it must answer. */
  async retarget(t: HostPort): Promise<void> {
    const c = await SheepConnection.connect(t, this.limits.connectTimeoutMs);
    try {
      const r = await c.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, SD_MAX_NODES * SD_NODE_SIZE), undefined, this.limits.tryTimeoutMs);
      if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result);
    } finally {
      c.close();
    }
    this.primary = t;
    this.current = t;
    this.dropAll();
  }

  private connection(t: HostPort): Promise<SheepConnection> {
    const k = key(t);
    let slots = this.conns.get(k);
    if (!slots) {
      slots = new Array(this.limits.connectionsPerSheep).fill(undefined);
      this.conns.set(k, slots);
    }
    const i = this.rr++ % slots.length;
    const existing = slots[i];
    if (existing) return existing;
    const p = SheepConnection.connect(t, this.limits.connectTimeoutMs);
    slots[i] = p;
    let up = this.up.get(k);
    if (!up) this.up.set(k, up = new Array(slots.length).fill(undefined));
    p.then(
      (c) => {
        if (slots![i] === p) up![i] = c;
        c.onClose(() => {
          // closed while still ours (not dropped on purpose): the sheep may have gone
          if (this.conns.get(k) === slots) this.cached.broke(t);
          if (slots![i] === p) slots![i] = undefined;
          if (up![i] === c) up![i] = undefined;
        });
      },
      () => { if (slots![i] === p) slots![i] = undefined; },
    );
    return p;
  }

  /** The next slot's connection when it is up (what connection() would resolve to at once). */
  private readyConnection(t: HostPort): SheepConnection | undefined {
    const up = this.up.get(key(t));
    if (!up) return undefined;
    const c = up[this.rr % up.length];
    if (!c || c.isClosed) return undefined;
    this.rr++;
    return c;
  }

  private drop(t: HostPort): void {
    const slots = this.conns.get(key(t));
    this.up.delete(key(t));
    if (!slots) return;
    this.conns.delete(key(t));
    for (const p of slots) p?.then((c) => c.close(), () => {});
  }

  private dropAll(): void {
    for (const k of [...this.conns.keys()]) {
      const [host, port] = [k.slice(0, k.lastIndexOf(':')), Number(k.slice(k.lastIndexOf(':') + 1))];
      this.drop({ host, port });
    }
  }

  /** The sheep to try after `failed`: the next candidate that is not it. */
  private advance(failed: HostPort): void {
    if (key(this.current) !== key(failed)) return; // someone already moved on
    const all = this.candidates();
    const at = all.findIndex((t) => key(t) === key(failed));
    this.current = all[(at + 1) % all.length] ?? this.primary;
  }

  private candidates(): HostPort[] {
    const seen = new Set<string>();
    const out: HostPort[] = [];
    for (const t of [this.primary, ...this.members]) {
      if (seen.has(key(t))) continue;
      seen.add(key(t));
      out.push(t);
    }
    return out;
  }

  /** Learn the members from the current sheep, so that there is somewhere to go when it dies. */
  async refreshMembers(): Promise<SdNode[] | undefined> {
    this.lastRefresh = Date.now();
    try {
      const r = await this.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, SD_MAX_NODES * SD_NODE_SIZE), undefined, { quickFail: true });
      if (r.hdr.result !== SD_RES.SUCCESS) return undefined;
      const nodes = decodeNodes(r.data, Math.floor(r.data.length / SD_NODE_SIZE));
      if (nodes.length > 0) this.members = nodes.map(nodeIoTarget);
      return nodes;
    } catch {
      return undefined;
    }
  }

  /**
   * Send one request and return its reply (whatever its result, except the
   * transient ones, which are retried). Throws SdError(NETWORK_ERROR) when no
   * sheep gave an answer before the deadline.
   */
  async request(req: SdHeader, payload?: Buffer, o: { to?: HostPort; quickFail?: boolean } = {}): Promise<Reply> {
    if (this.closed) throw new SdError(SD_RES.NETWORK_ERROR, 'sheepfs is shutting down');
    if (!o.to && !o.quickFail && Date.now() - this.lastRefresh > NODE_LIST_REFRESH_MS) void this.refreshMembers();
    // a write may land as long as the sheep's gateway works on it: wait that long
    const write = req.isWrite;
    const deadlineMs = write ? this.limits.writeDeadlineMs : this.limits.opDeadlineMs;
    const deadline = Date.now() + deadlineMs;
    // once no sheep answered a whole deadline long, later requests make one
    // pass over the candidates and fail, until one answers again
    const quickPass = this.unreachable && !o.to;
    const maxAttempts = o.quickFail ? 1 : quickPass ? this.candidates().length : Infinity;
    let last: unknown;
    for (let attempt = 0; ; attempt++) {
      const t = o.to ?? this.current;
      const left = deadline - Date.now();
      if (left <= 0 || attempt >= maxAttempts) break;
      try {
        const c = this.readyConnection(t) ?? await withTimeout(this.connection(t), Math.min(left, this.limits.connectTimeoutMs));
        const tryMs = write ? this.limits.writeTryTimeoutMs
          : quickPass ? Math.min(UNREACHABLE_TRY_MS, this.limits.tryTimeoutMs) : this.limits.tryTimeoutMs;
        const r = await c.request(req, payload, Math.max(1, Math.min(deadline - Date.now(), tryMs)));
        if (!TRANSIENT.has(r.hdr.result)) {
          if (!o.to) this.unreachable = false;
          if (write && (req.flags & SD_FLAG.CMD_CACHE) !== 0 && r.hdr.result === SD_RES.SUCCESS) this.cached.wrote(t, oidToVid(req.objOid));
          return r;
        }
        last = new SdError(r.hdr.result, `from ${key(t)}`);
      } catch (e) {
        last = e;
        this.cached.broke(t);
        if (!o.to) {
          this.drop(t);
          this.advance(t);
          if (!o.quickFail) void this.refreshMembersSoon();
        }
      }
      if (attempt + 1 < maxAttempts) await sleep(Math.min(RETRY_PAUSE_MS * (attempt < 3 ? 1 : 3), Math.max(0, deadline - Date.now())));
    }
    if (!o.to && !o.quickFail) this.unreachable = true;
    const why = last instanceof Error ? last.message : 'no sheep answered';
    throw new SdError(SD_RES.NETWORK_ERROR, `no sheep answered in ${deadlineMs} ms (${why})`);
  }

  private refreshing = false;
  private async refreshMembersSoon(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      await this.refreshMembers();
    } finally {
      this.refreshing = false;
    }
  }

  /** Like request, but any non-success result throws SdError. */
  async call(req: SdHeader, payload?: Buffer, o: { to?: HostPort } = {}): Promise<Reply> {
    const r = await this.request(req, payload, o);
    if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result);
    return r;
  }

  close(): void {
    this.closed = true;
    this.dropAll();
  }

  describe(): string {
    return targetString(this.current);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new SdError(SD_RES.NETWORK_ERROR, `no connection in ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
