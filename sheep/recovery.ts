import { resultOf, SdError } from '../shared/errors.js';
import { encodeNode, nodeAddrString, nodeKey, type SdNode } from '../shared/node.js';
import { ecPolicyToDp, isEcObj } from '../shared/oid.js';
import { VnodeRing } from '../shared/placement.js';
import { SD_FLAG, SD_STATUS } from '../shared/proto/flags.js';
import { requestGrowing } from '../shared/grow-reply.js';
import { SdHeader } from '../shared/proto/header.js';
import { decodeOidList } from '../shared/proto/obj-list.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { encodeRecoveryState } from '../shared/proto/recovery.js';
import { SD_RES } from '../shared/proto/results.js';
import type { EcIo } from './ec-io.js';
import type { EpochRecord } from './meta.js';
import type { SheepOptions } from './options.js';
import type { VdiTable } from './vdi-table.js';
import { recoveryWouldFillDisk, type DiskfullInputs } from './store/diskfull.js';
import { parseObjectName, type ObjectRef } from './store/store.js';
import { trimZeroBlocks } from './store/zero-blocks.js';

/** Objects recovered at once (the original runs 2 workers per disk). */
export const RECOVERY_WORKERS = 2;
/** First GET_OBJ_LIST buffer; doubled on BUFFER_SMALL. */
const OBJ_LIST_START_BYTES = 1 << 20;
const OBJ_LIST_MAX_BYTES = 1 << 30;
/** A peer that does not answer a recovery request in this long is skipped. */
const RECOVERY_PEER_TIMEOUT_MS = 30_000;
/** Passes over objects whose recovery failed (a peer did not answer) before giving up. */
const RECOVERY_RETRY_ROUNDS = 5;
const RECOVERY_RETRY_PAUSE_MS = 1000;
/** How long members that sent no object list are asked again (a stopped sheep may come back). */
const RECOVERY_LIST_RETRY_MS = 10 * 60_000;
/** A peer request waiting this long for its object's recovery is logged (again every so long). */
const SLOW_ACCESS_LOG_MS = 10_000;
/** How long a new recovery waits for peer ops of the previous epoch to finish. */
const DRAIN_OLD_OPS_MS = 30_000;

/**
 * What recovery decides from: the membership and epoch (group), this node's
 * store, the peers (object lists, object copies), an object's layout, and
 * the epoch log. It reaches nothing else of the daemon.
 */
export interface RecoveryInputs extends DiskfullInputs {
  readonly opts: Pick<SheepOptions, 'recovery'>;
  readonly self: SdNode;
  /** the sheep is stopping: a running recovery ends */
  readonly stopping: boolean;
  readonly ec: Pick<EcIo, 'rebuildStrip'>;
  /** the VDIs: stale copies stay while an erasure code has more data strips than there are zones */
  readonly vdis: Pick<VdiTable, 'all'>;
  /** An epoch's members: from our log, else from a member that has it. */
  epochRecord(epoch: number): Promise<EpochRecord | undefined>;
  /** Issue a cluster op (COMPLETE_RECOVERY) as this sheep. */
  runInternalClusterOp(req: SdHeader, payload?: Buffer): Promise<SdHeader>;
}

/** The members whose objects recovery lists: those holding data, and this node. */
function listedMembers(s: RecoveryInputs): SdNode[] {
  return s.group.cinfo.nodes.filter((n) => n.nrVnodes > 0 || s.peers.isSelf(n));
}

/** recovery_state.state (§16.5) */
export const RECOVERY_PHASE = { PREPARE: 0, RECOVER: 1, NOTIFY: 2 } as const;

interface Run {
  gen: number;
  /** epoch the recovery works for */
  epoch: number;
  /** newest epoch whose holders are asked first */
  tgtEpoch: number;
  notify: boolean;
  phase: number;
  total: number;
  finished: number;
  /** owned objects not recovered yet */
  pending: Set<bigint>;
  /** objects whose recovery failed for a reason that may pass (a peer did not answer) */
  failed: Set<bigint>;
  /** members whose object list we could not get: what only they hold is unknown yet */
  unlisted: SdNode[];
  listReady: Promise<void>;
  markListReady: () => void;
}

class Superseded extends Error {}

/**
 * Recovery: after a membership change every sheep moves aside the objects it no
 * longer owns (`.stale/<name>.<epoch>`), lists every object in the cluster, and
 * fetches the ones it now owns from the holders of earlier epochs, newest epoch
 * first. Stale copies are dropped only once every member has reported that its
 * recovery of the current epoch is complete, so an interrupted recovery never
 * loses the last copy. A peer request for an object still pending is served
 * after that object is recovered, ahead of the list.
 */
export class Recovery {
  private gen = 0;
  private run: Run | undefined;
  /** oid -> its recovery in progress */
  private readonly inflight = new Map<bigint, Promise<void>>();
  /** peer ops in progress, by the epoch they act in */
  private readonly opsByEpoch = new Map<number, number>();
  private readonly opEpoch = new WeakMap<SdHeader, number>();
  private opsDrained: (() => void)[] = [];
  /** oldest epoch recovery needs to look back to: all members had recovered it */
  lastGatheredEpoch = 1;
  /** Newest epoch whose set-aside pass completed: every live local copy was owned through it. */
  private setAsideThrough: number | undefined;
  private reported = { epoch: 0, nodes: new Set<string>() };
  /** `interval`: the interval as it was set (GET_RECOVERY reports it back exactly) */
  throttle: { max: number; intervalMs: number; interval?: bigint } = { max: 0, intervalMs: 0 };

  constructor(private readonly s: RecoveryInputs) {
    if (s.opts.recovery) this.throttle = { max: s.opts.recovery.max, intervalMs: s.opts.recovery.interval };
  }

  get active(): boolean {
    return this.run !== undefined;
  }

  /** STAT_RECOVERY reply (recovery_state, 24 bytes). */
  state(): Buffer {
    const r = this.run;
    if (!r) return encodeRecoveryState({ inRecovery: false, state: 0, finished: 0n, total: 0n });
    return encodeRecoveryState({ inRecovery: true, state: r.phase, finished: BigInt(r.finished), total: BigInt(r.total) });
  }

  // --- peer op bookkeeping ----------------------------------------------------

  /**
   * Wrap a peer op so that a new recovery can wait for ops of older epochs.
   * The op counts from the moment it passed its epoch check (entered()): one
   * still waiting for our epoch to catch up has touched nothing, and counting
   * it under the old epoch would make the new recovery wait for an op that
   * itself waits for that recovery's object list.
   */
  async tracked<T>(req: SdHeader, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      const epoch = this.opEpoch.get(req);
      if (epoch !== undefined) {
        this.opEpoch.delete(req);
        const left = (this.opsByEpoch.get(epoch) ?? 1) - 1;
        if (left === 0) this.opsByEpoch.delete(epoch);
        else this.opsByEpoch.set(epoch, left);
        for (const w of this.opsDrained.splice(0)) w();
      }
    }
  }

  /** A peer op passed its epoch check: it now acts in the current epoch. */
  entered(req: SdHeader): void {
    if (this.opEpoch.has(req)) return;
    const epoch = this.s.group.epoch;
    this.opEpoch.set(req, epoch);
    this.opsByEpoch.set(epoch, (this.opsByEpoch.get(epoch) ?? 0) + 1);
  }

  private olderOpsInFlight(epoch: number): boolean {
    for (const e of this.opsByEpoch.keys()) if (e < epoch) return true;
    return false;
  }

  private async drainOlderOps(epoch: number): Promise<void> {
    const deadline = Date.now() + DRAIN_OLD_OPS_MS;
    while (this.olderOpsInFlight(epoch) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.opsDrained.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /**
   * Called by every peer object op before it touches the store: an object this
   * node owns but has not recovered yet is recovered first.
   */
  async beforeAccess(oid: bigint): Promise<void> {
    const r = this.run;
    if (!r || !this.s.store) return;
    const listing = r.phase === RECOVERY_PHASE.PREPARE && !this.hasLocal(oid);
    if (!listing && !r.pending.has(oid) && !r.failed.has(oid)) return;
    // a request held here for long (a cluster op's work part holds the cluster block meanwhile) shows in the log
    const t0 = Date.now();
    const timer = setInterval(() => {
      this.s.log.warn('recovery', `a request for ${oid.toString(16)} waits for its recovery (epoch ${r.epoch}, phase ${r.phase}, ${r.finished} of ${r.total} done) for ${Date.now() - t0} ms`);
    }, SLOW_ACCESS_LOG_MS);
    try {
      if (listing) await r.listReady;
      // one whose recovery failed (too few strips reachable then) is tried again:
      // a gateway retries its write until the strip is here
      if (r.pending.has(oid) || r.failed.has(oid)) await this.recoverNow(r, oid);
    } finally {
      clearInterval(timer);
    }
  }

  // --- life cycle -----------------------------------------------------------

  /**
   * Start recovering the current epoch, looking back from `tgtEpoch`. A running
   * recovery is superseded: it stops after the objects in flight.
   */
  start(tgtEpoch: number, notify: boolean): void {
    if (this.s.group.status !== SD_STATUS.OK) return;
    // the first recovery of this process: what is live here was owned up to
    // the epoch it looks back from (set aside otherwise, when the sheep joined)
    this.setAsideThrough ??= Math.min(tgtEpoch, this.s.group.epoch);
    const gen = ++this.gen;
    let markListReady!: () => void;
    const listReady = new Promise<void>((resolve) => { markListReady = resolve; });
    const r: Run = {
      gen, epoch: this.s.group.epoch, tgtEpoch, notify, phase: RECOVERY_PHASE.PREPARE,
      total: 0, finished: 0, pending: new Set(), failed: new Set(), unlisted: [], listReady, markListReady,
    };
    const prev = this.run;
    prev?.markListReady();
    this.run = r;
    this.s.log.info('recovery', `recovery of epoch ${r.epoch} starts (looking back from epoch ${tgtEpoch})`);
    void this.execute(r).catch((e) => {
      r.markListReady();
      if (e instanceof Superseded) return;
      this.s.log.err('recovery', `recovery of epoch ${r.epoch} failed: ${(e as Error).stack ?? e}`);
      if (this.run === r) this.run = undefined;
    });
  }

  /** Stop whatever runs (this node was dropped from the cluster). */
  abort(): void {
    this.gen++;
    this.run?.markListReady();
    this.run = undefined;
  }

  private check(r: Run): void {
    if (r.gen !== this.gen || this.s.stopping) throw new Superseded();
  }

  private async execute(r: Run): Promise<void> {
    await this.drainOlderOps(r.epoch);
    await Promise.allSettled([...this.inflight.values()]);
    this.check(r);
    const store = this.s.store;
    if (store) {
      // a copy is kept only if this node owned it in every epoch since the
      // last pass that completed: a pass superseded by the next epoch may have
      // left a copy this node did not own in between (writes went elsewhere),
      // and owning it again must not make that out-of-date copy current
      const rings = await this.ringsSince(this.setAsideThrough!, r.epoch);
      for (const name of [...store.names()]) {
        const ref = parseObjectName(name);
        if (!ref) continue;
        const gap = rings.find((x) => !this.ownsIn(ref, x.ring));
        if (!gap) continue;
        // a peer op of this epoch may remove it meanwhile (a degraded EC write
        // drops the strips nobody holds now): then there is nothing to set aside
        await store.moveToStale(ref, Math.min(r.tgtEpoch, gap.epoch - 1)).catch((e: unknown) => {
          if (resultOf(e) !== SD_RES.NO_OBJ) throw e;
        });
        this.check(r);
      }
      this.setAsideThrough = r.epoch;
      this.check(r);
      const full = await recoveryWouldFillDisk(this.s);
      this.check(r);
      if (full) {
        // -F: nothing is fetched, so no sheep runs out of space
        this.s.log.err('recovery', `${full}: recovery will cause disk full`);
        this.s.log.err('recovery', 'canceling recovery because of disk full');
        r.markListReady();
        if (this.run === r) this.run = undefined;
        return;
      }
      const list = await this.buildList(r, listedMembers(this.s));
      this.check(r);
      for (const oid of list) if (!this.hasLocal(oid)) r.pending.add(oid);
      r.total = list.length;
      r.finished = list.length - r.pending.size;
      this.s.log.info('recovery', `epoch ${r.epoch}: ${r.pending.size} of ${list.length} owned objects to recover`);
    }
    r.phase = RECOVERY_PHASE.RECOVER;
    r.markListReady();
    if (!this.s.group.cinfo.disableRecovery) await this.work(r);
    else await this.waitEnabled(r);
    const listDeadline = Date.now() + RECOVERY_LIST_RETRY_MS;
    for (let round = 1; ; round++) {
      const objectsAgain = r.failed.size > 0 && round <= RECOVERY_RETRY_ROUNDS;
      const listsAgain = r.unlisted.length > 0 && Date.now() < listDeadline;
      if (!objectsAgain && !listsAgain) break;
      await new Promise((resolve) => setTimeout(resolve, RECOVERY_RETRY_PAUSE_MS * Math.min(round, RECOVERY_RETRY_ROUNDS)));
      this.check(r);
      if (r.unlisted.length > 0 && this.s.store) {
        const ask = r.unlisted.splice(0);
        this.s.log.info('recovery', `epoch ${r.epoch}: asking ${ask.length} members for their object list again`);
        for (const oid of await this.buildList(r, ask)) {
          if (this.hasLocal(oid) || r.pending.has(oid) || r.failed.has(oid)) continue;
          r.pending.add(oid);
          r.total++;
        }
        this.check(r);
      }
      if (r.failed.size > 0) this.s.log.info('recovery', `epoch ${r.epoch}: trying ${r.failed.size} objects again`);
      for (const oid of r.failed) r.pending.add(oid);
      r.finished -= r.failed.size;
      r.failed.clear();
      await this.work(r);
    }
    this.check(r);
    if (r.failed.size > 0 || r.unlisted.length > 0) {
      // never report completion: the others would drop the stale copies this
      // node may still need (an unlisted member may hold the only copy of an
      // object this node owns now)
      const why = r.failed.size > 0 ? `${r.failed.size} objects could not be recovered` : `${r.unlisted.length} members sent no object list`;
      this.s.log.err('recovery', `epoch ${r.epoch}: ${why}; stale copies are kept until a later recovery succeeds`);
      if (this.run === r) this.run = undefined;
      return;
    }
    r.phase = RECOVERY_PHASE.NOTIFY;
    this.s.log.info('recovery', `recovery of epoch ${r.epoch} complete`);
    if (r.notify) {
      const self = encodeNode(this.s.self);
      const req = SdHeader.request(SD_OP.COMPLETE_RECOVERY, SD_FLAG.CMD_WRITE, self.length);
      req.objTgtEpoch = r.epoch;
      await this.s.runInternalClusterOp(req, self).catch((e) => {
        this.s.log.warn('recovery', `reporting completion of epoch ${r.epoch}: ${(e as Error).message}`);
      });
    }
    if (this.run === r) this.run = undefined;
  }

  /** With recovery disabled, only objects that clients touch are recovered. */
  private async waitEnabled(r: Run): Promise<void> {
    while (this.s.group.cinfo.disableRecovery) {
      this.check(r);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await this.work(r);
  }

  private async work(r: Run): Promise<void> {
    const queue = [...r.pending].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let next = 0;
    let windowStart = Date.now();
    let inWindow = 0;
    const worker = async () => {
      while (next < queue.length) {
        this.check(r);
        if (this.throttle.max > 0 && this.throttle.intervalMs > 0) {
          if (Date.now() - windowStart >= this.throttle.intervalMs) {
            windowStart = Date.now();
            inWindow = 0;
          }
          if (inWindow >= this.throttle.max) {
            await new Promise((resolve) => setTimeout(resolve, windowStart + this.throttle.intervalMs - Date.now()));
            continue;
          }
          inWindow++;
        }
        const oid = queue[next++]!;
        if (!r.pending.has(oid)) continue;
        await this.recoverNow(r, oid);
      }
    };
    await Promise.all(Array.from({ length: RECOVERY_WORKERS }, worker));
  }

  /** Recover one object now (or join its recovery in progress). */
  private recoverNow(r: Run, oid: bigint): Promise<void> {
    const running = this.inflight.get(oid);
    if (running) return running;
    const p = this.recoverObject(r, oid)
      .then(() => { r.failed.delete(oid); })
      .catch((e) => {
        if (e instanceof Superseded) return;
        this.s.log.warn('recovery', `object ${oid.toString(16)}: ${(e as Error).message}`);
        // an object no holder of any epoch has is gone (deleted): nothing to wait for
        if (!(e instanceof SdError && e.code === SD_RES.NO_OBJ)) r.failed.add(oid);
      })
      .finally(() => {
        this.inflight.delete(oid);
        if (r.pending.delete(oid)) r.finished++;
      });
    this.inflight.set(oid, p);
    return p;
  }

  // --- ownership and the object list ---------------------------------------

  private copies(oid: bigint): number {
    return this.s.gateway.copies(oid, 0);
  }

  private ecStrips(oid: bigint): number | undefined {
    const policy = this.s.gateway.copyPolicy(oid, 0);
    if (!isEcObj(oid, policy)) return undefined;
    const { d, p } = ecPolicyToDp(policy);
    return d + p;
  }

  /** The strip index this node holds of an object (EC), -1 if none, undefined for replicas. */
  private myStrip(oid: bigint, ring: VnodeRing): number | undefined {
    const strips = this.ecStrips(oid);
    if (strips === undefined) return undefined;
    return ring.holders(oid, strips).findIndex((n) => this.s.peers.isSelf(n));
  }

  private ownsOid(oid: bigint, ring = this.s.group.ring): boolean {
    if (ring.isEmpty) return false;
    const strips = this.ecStrips(oid);
    return ring.holders(oid, strips ?? this.copies(oid)).some((n) => this.s.peers.isSelf(n));
  }

  /** Does this node hold `ref` in that ring (that strip of it, for EC)? */
  private ownsIn(ref: ObjectRef, ring: VnodeRing): boolean {
    if (ring.isEmpty) return false;
    if (ref.ec === undefined) return this.ownsOid(ref.oid, ring);
    return this.myStrip(ref.oid, ring) === ref.ec;
  }

  /**
   * The rings of the epochs after `from` up to `to` (at least `to`'s, the
   * current one). An epoch whose members are unknown here has an empty ring:
   * nothing is taken to be owned in it.
   */
  private async ringsSince(from: number, to: number): Promise<{ epoch: number; ring: VnodeRing }[]> {
    const out = [{ epoch: to, ring: this.s.group.ring }];
    for (let e = Math.min(from, to - 1) + 1; e < to; e++) {
      const nodes = await this.epochNodes(e);
      out.push({ epoch: e, ring: new VnodeRing(nodes ? this.s.group.effective(nodes) : []) });
    }
    return out.sort((a, b) => a.epoch - b.epoch);
  }

  private ref(oid: bigint): ObjectRef {
    const strip = this.myStrip(oid, this.s.group.ring);
    return { oid, ec: strip === undefined || strip < 0 ? undefined : strip };
  }

  private hasLocal(oid: bigint): boolean {
    return this.s.store?.exists(this.ref(oid)) ?? false;
  }

  /**
   * Every object (live or stale) on the given members that this node owns now.
   * A member that sends no list is remembered in r.unlisted: the recovery does
   * not complete until it has been listed.
   */
  private async buildList(r: Run, members: SdNode[]): Promise<bigint[]> {
    const all = new Set<bigint>();
    const start = Math.floor(Math.random() * Math.max(1, members.length));
    for (let i = 0; i < members.length; i++) {
      this.check(r);
      const n = members[(start + i) % members.length]!;
      try {
        for (const oid of await this.objectList(n)) all.add(oid);
      } catch (e) {
        if (e instanceof Superseded) throw e;
        this.s.log.warn('recovery', `no object list from ${nodeAddrString(n)}: ${(e as Error).message}`);
        r.unlisted.push(n);
      }
    }
    return [...all].filter((oid) => this.ownsOid(oid)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private async objectList(n: SdNode): Promise<bigint[]> {
    const store = this.s.store;
    if (this.s.peers.isSelf(n)) return store ? [...store.oids(), ...store.staleOids()] : [];
    const { reply: rsp } = await requestGrowing(async (len) => {
      const req = SdHeader.request(SD_OP.GET_OBJ_LIST, SD_FLAG.CMD_RECOVERY, len);
      req.epoch = this.s.group.epoch;
      const conn = await this.s.peers.peerConn(n);
      return conn.request(req, undefined, RECOVERY_PEER_TIMEOUT_MS);
    }, { first: OBJ_LIST_START_BYTES, max: OBJ_LIST_MAX_BYTES });
    if (rsp!.hdr.result !== SD_RES.SUCCESS) throw new SdError(rsp!.hdr.result);
    return decodeOidList(rsp!.data);
  }

  // --- one object -------------------------------------------------------------

  /** Members of an epoch: from our log, else from a member that has it (then kept). */
  private async epochNodes(epoch: number): Promise<SdNode[] | undefined> {
    if (epoch === this.s.group.epoch) return this.s.group.cinfo.nodes;
    return (await this.s.epochRecord(epoch))?.nodes;
  }

  private async recoverObject(r: Run, oid: bigint): Promise<void> {
    const store = this.s.store;
    if (!store) return;
    const ref = this.ref(oid);
    if (store.exists(ref)) return;
    if (ref.ec !== undefined) {
      await this.recoverStrip(r, oid, ref.ec);
      return;
    }
    const size = this.s.gateway.objSize(oid);
    const alive = new Set(this.s.group.members.map(nodeKey));
    let unsure = false;
    // current owners first: a live copy there is as new as any
    for (let e = r.epoch; e >= this.lastGatheredEpoch && e >= 1; e--) {
      this.check(r);
      const nodes = await this.epochNodes(e);
      if (!nodes) continue;
      const ring = new VnodeRing(this.s.group.effective(nodes));
      if (ring.isEmpty) continue;
      for (const h of ring.holders(oid, this.copies(oid))) {
        let data: Buffer | undefined | 'error';
        if (this.s.peers.isSelf(h)) {
          const tag = store.staleEpoch(ref);
          if (tag !== undefined && tag >= e) data = await store.readStale(ref, tag, 0, size);
        } else if (alive.has(nodeKey(h))) {
          data = await this.fetch(h, oid, e, size);
        }
        if (data === 'error') unsure = true;
        if (!data || data === 'error') continue;
        this.check(r);
        if (store.exists(ref)) return;
        const t = trimZeroBlocks(0, data);
        await store.create(ref, t.offset, t.data, size, this.s.group.epoch);
        this.s.log.debug('recovery', `${oid.toString(16)} recovered from ${nodeAddrString(h)} (epoch ${e})`);
        return;
      }
    }
    if (unsure) throw new SdError(SD_RES.NETWORK_ERROR, 'no copy found, and some holders did not answer');
    throw new SdError(SD_RES.NO_OBJ, `no copy found in epochs ${r.epoch}..${this.lastGatheredEpoch}`);
  }

  /** An erasure-coded strip is rebuilt from any d strips of the current or older epochs. */
  private async recoverStrip(r: Run, oid: bigint, strip: number): Promise<void> {
    const sources: SdNode[][] = [];
    const epochs: number[] = [];
    for (let e = r.epoch; e >= this.lastGatheredEpoch && e >= 1; e--) {
      const nodes = await this.epochNodes(e);
      if (!nodes) continue;
      const ring = new VnodeRing(this.s.group.effective(nodes));
      if (ring.isEmpty) continue;
      sources.push(ring.holders(oid, this.ecStrips(oid)!));
      epochs.push(e);
    }
    this.check(r);
    const data = await this.s.ec.rebuildStrip(oid, strip, sources, epochs);
    const store = this.s.store!;
    const ref = { oid, ec: strip };
    if (store.exists(ref)) return;
    await store.create(ref, 0, data, data.length, this.s.group.epoch);
  }

  /** READ_PEER with the recovery flag: the holder answers from its live or stale copy. */
  /** The object's bytes; undefined when the holder has no copy; 'error' when it could not tell. */
  private async fetch(n: SdNode, oid: bigint, tgtEpoch: number, size: number, ec?: number): Promise<Buffer | undefined | 'error'> {
    const req = SdHeader.request(SD_OP.READ_PEER, SD_FLAG.CMD_RECOVERY, size);
    req.epoch = this.s.group.epoch;
    req.objOid = oid;
    req.objTgtEpoch = tgtEpoch;
    if (ec !== undefined) req.objEcIndex = ec;
    try {
      const conn = await this.s.peers.peerConn(n);
      const rsp = await conn.request(req, undefined, RECOVERY_PEER_TIMEOUT_MS);
      if (rsp.hdr.result === SD_RES.OLD_NODE_VER) throw new Superseded();
      if (rsp.hdr.result === SD_RES.NO_OBJ) return undefined;
      if (rsp.hdr.result !== SD_RES.SUCCESS) return 'error';
      return rsp.data.length === size ? rsp.data : Buffer.concat([rsp.data, Buffer.alloc(size - rsp.data.length)]);
    } catch (e) {
      if (e instanceof Superseded) throw e;
      this.s.log.debug('recovery', `${oid.toString(16)} from ${nodeAddrString(n)}: ${resultOf(e)}`);
      return 'error';
    }
  }

  // --- completion ---------------------------------------------------------------

  /** The most data strips of any erasure-coded VDI the cluster has had (ec_max_data_strip). */
  private maxDataStrips(): number {
    let most = 0;
    for (const v of this.s.vdis.all()) if (v.copyPolicy) most = Math.max(most, ecPolicyToDp(v.copyPolicy).d);
    return most;
  }

  /** COMPLETE_RECOVERY main part, on every sheep in cluster order. */
  async completed(node: SdNode, epoch: number): Promise<void> {
    if (epoch !== this.s.group.epoch) return;
    if (this.reported.epoch !== epoch) this.reported = { epoch, nodes: new Set() };
    this.reported.nodes.add(nodeKey(node));
    const all = this.s.group.cinfo.nodes.every((n) => this.reported.nodes.has(nodeKey(n)));
    if (!all) return;
    this.lastGatheredEpoch = epoch;
    // our own report is among them, so a run of this epoch is only notifying
    const r = this.run;
    if (this.s.store && (!r || (r.epoch === epoch && r.phase === RECOVERY_PHASE.NOTIFY))) {
      const dataStrips = this.maxDataStrips();
      if (this.s.group.ring.nrZones < dataStrips) {
        // an erasure-coded object has one copy of each strip: with fewer zones
        // than data strips some could not be rebuilt, and the stale strips are
        // all there is of them until members come back (as the original)
        this.s.log.info('recovery', `every member recovered epoch ${epoch}: stale copies kept (${this.s.group.ring.nrZones} zones, erasure code of ${dataStrips} data strips)`);
        return;
      }
      await this.s.store.purgeStale();
      this.s.log.info('recovery', `every member recovered epoch ${epoch}: stale copies dropped`);
    }
  }
}
