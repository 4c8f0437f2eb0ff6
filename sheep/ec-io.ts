import { EC_STRIPE_SIZE, ecCode, encodeStripes, joinStripes, validEcGeometry, type ErasureCode } from '../shared/ec/code.js';
import { resultOf, SdError } from '../shared/errors.js';
import { nodeKey, sameNode, type SdNode } from '../shared/node.js';
import { ecPolicyToDp } from '../shared/oid.js';
import { VnodeRing } from '../shared/placement.js';
import { SD_FLAG } from '../shared/proto/flags.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import type { Gateway, ObjectIo, StripIo } from './gateway.js';
import type { Logger } from './log.js';
import type { EpochRecord } from './meta.js';
import type { MembershipView } from './ports.js';

/** What EC I/O is given: the gateway's peer requests and retries, the membership, old epochs. */
export interface EcDeps {
  readonly log: Logger;
  readonly group: MembershipView;
  readonly gateway: Pick<Gateway, 'peer' | 'retrying' | 'objSize' | 'copyPolicy'>;
  /** An epoch's members (from our log, else from a member that has it). */
  epochRecord(epoch: number): Promise<EpochRecord | undefined>;
}

/** Older epochs searched for a strip that is not where the current ring puts it. */
export const EC_HISTORY_EPOCHS_MAX = 16;
/** Rings of old epochs kept built. */
const EC_RING_CACHE_MAX = 32;

/** Results that mean "ask again on a fresh ring" rather than "the strip is gone". */
const RETRYABLE: ReadonlySet<number> = new Set([
  SD_RES.OLD_NODE_VER, SD_RES.NEW_NODE_VER, SD_RES.NETWORK_ERROR, SD_RES.WAIT_FOR_JOIN,
  SD_RES.WAIT_FOR_FORMAT, SD_RES.KILLED, SD_RES.SHUTDOWN,
]);

/** What an EC operation on one object needs to know. */
export interface EcGeometry {
  policy: number;
  code: ErasureCode;
  /** object size in bytes */
  objSize: number;
  /** bytes of one strip file: whole stripes of the object, divided by d */
  stripFileSize: number;
}

/** Size of one strip file of an object of objSize bytes coded with d data strips. */
export function ecStripFileSize(objSize: number, d: number): number {
  return Math.ceil(objSize / EC_STRIPE_SIZE) * (EC_STRIPE_SIZE / d);
}

/**
 * Gateway I/O on erasure-coded objects (protocol.md §12.4). Strip j of an
 * object lives on the j-th holder of the ring walk for d+p copies; a peer
 * request names the strip by `obj.ec_index` and addresses strip-file bytes.
 *
 * Beyond the original (which relies on recovery), reads decode: a data strip
 * that cannot be read from its holder is looked for on the holders of older
 * epochs, and the missing ones are rebuilt from any d strips found.
 */
export class EcIo implements StripIo {
  /** writes of one object run one at a time here (stripe read-modify-write) */
  private readonly writeChains = new Map<bigint, Promise<unknown>>();
  private readonly rings = new Map<string, VnodeRing | null>();

  constructor(private readonly s: EcDeps) {}

  geometry(oid: bigint, requestedPolicy: number): EcGeometry {
    const policy = this.s.gateway.copyPolicy(oid, requestedPolicy);
    const { d, p } = ecPolicyToDp(policy);
    if (!validEcGeometry(d, p)) throw new SdError(SD_RES.INVALID_PARMS, `erasure code policy 0x${policy.toString(16)}`);
    const objSize = this.s.gateway.objSize(oid);
    return { policy, code: ecCode(d, p), objSize, stripFileSize: ecStripFileSize(objSize, d) };
  }

  /** The current strip holders; fewer than d zones cannot hold the object at all. */
  private holders(oid: bigint, g: EcGeometry): SdNode[] {
    const ring = this.s.group.ring;
    if (ring.isEmpty) throw new SdError(SD_RES.HALT);
    const h = ring.holders(oid, g.code.total);
    if (h.length < g.code.d) {
      throw new SdError(SD_RES.SYSTEM_ERROR, `${h.length} zones cannot hold ${g.code.d}:${g.code.p} strips`);
    }
    return h;
  }

  // --- gateway operations ------------------------------------------------------

  async read(io: ObjectIo, length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const g = this.geometry(io.oid, io.copyPolicy);
    const first = Math.floor(io.offset / EC_STRIPE_SIZE);
    const last = Math.ceil((io.offset + length) / EC_STRIPE_SIZE) - 1;
    const bytes = await this.readStripes(io.oid, g, first, last - first + 1);
    const at = io.offset - first * EC_STRIPE_SIZE;
    return bytes.subarray(at, at + length);
  }

  async write(io: ObjectIo, data: Buffer, create: boolean): Promise<void> {
    const prev = this.writeChains.get(io.oid) ?? Promise.resolve();
    const run = prev.then(() => this.writeNow(io, data, create), () => this.writeNow(io, data, create));
    const tail = run.catch(() => {});
    this.writeChains.set(io.oid, tail);
    try {
      await run;
    } finally {
      if (this.writeChains.get(io.oid) === tail) this.writeChains.delete(io.oid);
    }
  }

  async remove(io: ObjectIo): Promise<void> {
    const g = this.geometry(io.oid, io.copyPolicy);
    await this.s.gateway.retrying(`remove strips of ${io.oid.toString(16)}`, async (deadline) => {
      const holders = this.holders(io.oid, g);
      const results = await Promise.allSettled(holders.map((n, j) =>
        this.s.gateway.peer(n, this.stripHeader(SD_OP.REMOVE_PEER, io.oid, g, j, 0, 0, false), undefined, deadline)));
      const errs = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
      const hard = errs.filter((e) => resultOf(e) !== SD_RES.NO_OBJ);
      if (hard.length > 0) throw hard[hard.length - 1];
      if (errs.length === holders.length) throw new SdError(SD_RES.NO_OBJ);
    }, io.deadline);
  }

  /**
   * Rebuild one strip of an object for recovery (protocol.md §12.5) and return
   * its bytes (the whole strip file, `object size / d` bytes).
   *
   * First the strip itself is looked for: on the node at position `stripIndex`
   * of each holder list in `sources` (and on every node of a list shorter than
   * d+p, whose zones could not spread the strips). Failing that, any d other
   * strips are gathered the same way, in ascending index order, and decoded.
   *
   * @param oid an erasure-coded object (its VDI's policy gives d and p)
   * @param stripIndex 0 … d+p−1: data strips first, then parity
   * @param sources holder lists (ring order, as `VnodeRing.holders(oid, d+p)`)
   *   to try, newest epoch first; nodes that are not current members are skipped
   * @param epochs the epoch of each list in `sources`. Every read carries the
   *   RECOVERY flag (so it never waits on the holder's own recovery) with
   *   `obj.tgt_epoch` = the list's epoch, which lets a holder answer from a
   *   stale copy moved aside at that epoch or later. Without it list i is taken
   *   to be of epoch (current − i), which is never older than the truth.
   * @throws SdError NO_OBJ when no strip can be found anywhere, EIO when some
   *   but fewer than d can, or the last retryable error (NETWORK_ERROR, …)
   *   when some nodes did not answer
   */
  async rebuildStrip(oid: bigint, stripIndex: number, sources: SdNode[][], epochs?: readonly number[]): Promise<Buffer> {
    const g = this.geometry(oid, 0);
    const { d, total } = g.code;
    if (!Number.isInteger(stripIndex) || stripIndex < 0 || stripIndex >= total) {
      throw new SdError(SD_RES.INVALID_PARMS, `strip index ${stripIndex} of a ${d}:${g.code.p} object`);
    }
    const now = this.s.group.epoch;
    const lists: StripSource[] = sources.map((nodes, i) => ({ nodes, tgtEpoch: epochs?.[i] ?? Math.max(1, now - i) }));
    // then the rings this node knows, each with its exact epoch: a strip the
    // caller's lists miss (a recovery interrupted by the next epoch) is found there
    if (!this.s.group.ring.isEmpty) lists.push({ nodes: this.s.group.ring.holders(oid, total), tgtEpoch: now });
    lists.push(...await this.history(oid, g));
    // One epoch at a time, newest first: the strips of one epoch's holders are
    // of one write generation. A write made with holders missing (a degraded
    // write) left some strip indices unwritten; an older epoch's copy of such
    // a strip is older than the rest, so it must be rebuilt from the newer
    // strips rather than fetched from the epoch that still has it.
    for (const list of lists) {
      const one = new StripGather(this, oid, g, 0, g.stripFileSize, [list]);
      if (await one.one(stripIndex)) return one.slots[stripIndex]!;
      const rest = [...Array(total).keys()].filter((i) => i !== stripIndex);
      await one.some(rest, d);
      if (one.count >= d) return Buffer.from(g.code.reconstruct(one.slots, [stripIndex])[0]!);
    }
    // no epoch alone has enough: take what can be found anywhere
    const gather = new StripGather(this, oid, g, 0, g.stripFileSize, lists);
    if (await gather.one(stripIndex)) return gather.slots[stripIndex]!;
    const others = [...Array(total).keys()].filter((i) => i !== stripIndex);
    await gather.some(others, d);
    if (gather.count < d) throw gather.failure();
    return Buffer.from(g.code.reconstruct(gather.slots, [stripIndex])[0]!);
  }

  // --- internals -----------------------------------------------------------------

  /** Header of a peer request on strip j: strip-file offset and length. */
  stripHeader(op: number, oid: bigint, g: EcGeometry, j: number, offset: number, length: number, write: boolean): SdHeader {
    const h = SdHeader.request(op, write ? SD_FLAG.CMD_WRITE : 0, length);
    h.epoch = this.s.group.epoch;
    h.objOid = oid;
    h.objOffset = offset;
    h.objCopies = g.code.total;
    h.objCopyPolicy = g.policy;
    h.objEcIndex = j;
    return h;
  }

  /**
   * Read one strip range from one node; throws its result. With a target epoch
   * the read is a recovery read (the holder may answer from a stale copy).
   */
  async fetchStrip(n: SdNode, oid: bigint, g: EcGeometry, j: number, offset: number, length: number, tgtEpoch?: number): Promise<Buffer> {
    const h = this.stripHeader(SD_OP.READ_PEER, oid, g, j, offset, length, false);
    if (tgtEpoch !== undefined) {
      h.flags |= SD_FLAG.CMD_RECOVERY;
      h.objTgtEpoch = tgtEpoch;
    }
    const r = await this.s.gateway.peer(n, h);
    if (r.data.length !== length) throw new SdError(SD_RES.EIO, `short strip ${j} of ${oid.toString(16)}: ${r.data.length} of ${length}`);
    return r.data;
  }

  isMember(n: SdNode): boolean {
    return this.s.group.members.some((m) => sameNode(m, n));
  }

  /** Object bytes of `count` whole stripes from stripe `first` on. */
  private async readStripes(oid: bigint, g: EcGeometry, first: number, count: number): Promise<Buffer> {
    const { d } = g.code;
    const w = g.code.stripSize;
    return this.s.gateway.retrying(`read strips of ${oid.toString(16)}`, async () => {
      const gather = new StripGather(this, oid, g, first * w, count * w, [{ nodes: this.holders(oid, g) }]);
      const data = [...Array(d).keys()];
      await Promise.all(data.map((j) => gather.one(j)));
      if (gather.missing(data).length > 0) {
        gather.addSources(await this.history(oid, g));
        await Promise.all(gather.missing(data).map((j) => gather.one(j)));
      }
      const lost = gather.missing(data);
      if (lost.length > 0) {
        const parity = [...Array(g.code.p).keys()].map((k) => d + k);
        await gather.some(parity, lost.length);
        if (gather.count < d) throw gather.failure();
        this.s.log.debug('ec', `${oid.toString(16)}: decoding data strips ${lost.join(',')}`);
      }
      const strips = gather.missing(data).length === 0
        ? data.map((j) => gather.slots[j]!)
        : g.code.reconstruct(gather.slots, data);
      return joinStripes(strips, d);
    });
  }

  /** Holder lists of the epochs before the current one, newest first. */
  private async history(oid: bigint, g: EcGeometry): Promise<StripSource[]> {
    const out: StripSource[] = [];
    const now = this.s.group.epoch;
    for (let e = now - 1; e >= 1 && e >= now - EC_HISTORY_EPOCHS_MAX; e--) {
      const ring = await this.ringAt(e);
      if (ring && !ring.isEmpty) out.push({ nodes: ring.holders(oid, g.code.total), tgtEpoch: e });
    }
    return out;
  }

  private async ringAt(epoch: number): Promise<VnodeRing | null> {
    const key = `${this.s.group.cinfo.ctime}:${epoch}`;
    if (this.rings.has(key)) return this.rings.get(key)!;
    const rec = await this.s.epochRecord(epoch).catch(() => undefined);
    const ring = rec && rec.nodes.length > 0 ? new VnodeRing(rec.nodes) : null;
    if (this.rings.size >= EC_RING_CACHE_MAX) this.rings.delete(this.rings.keys().next().value!);
    this.rings.set(key, ring);
    return ring;
  }

  private async writeNow(io: ObjectIo, data: Buffer, create: boolean): Promise<void> {
    const g = this.geometry(io.oid, io.copyPolicy);
    if (data.length === 0) {
      // an empty create preallocates every strip; an empty write changes nothing
      if (create) await this.sendStrips(io.oid, g, SD_OP.CREATE_AND_WRITE_PEER, 0, undefined, io.deadline);
      return;
    }
    const first = Math.floor(io.offset / EC_STRIPE_SIZE);
    const last = Math.ceil((io.offset + data.length) / EC_STRIPE_SIZE) - 1;
    const base = first * EC_STRIPE_SIZE;
    const stripes = Buffer.alloc((last - first + 1) * EC_STRIPE_SIZE);
    if (!create) {
      // partial stripes at either end: fill them with what is stored now
      const headPartial = io.offset % EC_STRIPE_SIZE !== 0;
      const tailPartial = (io.offset + data.length) % EC_STRIPE_SIZE !== 0;
      if (headPartial) (await this.readStripes(io.oid, g, first, 1)).copy(stripes, 0);
      if (tailPartial && (last !== first || !headPartial)) {
        (await this.readStripes(io.oid, g, last, 1)).copy(stripes, (last - first) * EC_STRIPE_SIZE);
      }
    }
    data.copy(stripes, io.offset - base);
    const strips = encodeStripes(stripes, g.code);
    const op = create ? SD_OP.CREATE_AND_WRITE_PEER : SD_OP.WRITE_PEER;
    const stripOffset = first * g.code.stripSize;
    try {
      await this.sendStrips(io.oid, g, op, stripOffset, strips, io.deadline);
    } catch (e) {
      if (create || resultOf(e) !== SD_RES.NO_OBJ) throw e;
      // a holder lacks its strip (the ring moved and recovery has not brought it
      // yet): rewrite the whole object on the current holders from what can be read
      this.s.log.info('ec', `${io.oid.toString(16)}: a holder lacks its strip; rewriting the object`);
      const nStripes = g.stripFileSize / g.code.stripSize;
      const whole = await this.readStripes(io.oid, g, 0, nStripes);
      stripes.copy(whole, base);
      await this.sendStrips(io.oid, g, SD_OP.CREATE_AND_WRITE_PEER, 0, encodeStripes(whole, g.code), io.deadline);
    }
  }

  /**
   * Send strip j to holder j for every current holder (all d+p, or as many as
   * there are zones when fewer). Every holder must succeed; a retryable
   * failure retries the whole send on the next ring. `strips` undefined sends
   * empty payloads (create = preallocate).
   */
  private async sendStrips(
    oid: bigint, g: EcGeometry, op: number, offset: number, strips: Buffer[] | undefined, deadline: number | undefined,
  ): Promise<void> {
    await this.s.gateway.retrying(`${op.toString(16)} strips of ${oid.toString(16)}`, async (until) => {
      const holders = this.holders(oid, g);
      const results = await Promise.allSettled(holders.map((n, j) => {
        const payload = strips?.[j];
        const h = this.stripHeader(op, oid, g, j, offset, payload?.length ?? 0, payload !== undefined);
        return this.s.gateway.peer(n, h, payload, until);
      }));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
      if (failed.length === 0) {
        if (holders.length < g.code.total && strips !== undefined) await this.dropUnheldStrips(oid, g, holders.length, until);
        return;
      }
      throw failed.find((e) => RETRYABLE.has(resultOf(e))) ?? failed.find((e) => resultOf(e) === SD_RES.NO_OBJ) ?? failed[0];
    }, deadline);
  }

  /**
   * After a degraded write (fewer zones than strips) the strips from index
   * `from` on were not rewritten, so any copy of them left on a member is out
   * of date; remove them so that recovery, once the zones are back, rebuilds
   * them from the written strips instead of finding the old ones. Sent with
   * the RECOVERY flag: nobody owns these strips now, nothing is to wait for.
   * Only "no such strip" is expected; any other answer fails the write (a
   * retryable one retries it whole): the write is not acknowledged while an
   * out-of-date strip may survive on a member that recovery would trust.
   */
  private async dropUnheldStrips(oid: bigint, g: EcGeometry, from: number, deadline?: number): Promise<void> {
    const reqs: Promise<unknown>[] = [];
    for (const n of this.s.group.members) {
      if (n.nrVnodes === 0) continue;
      for (let j = from; j < g.code.total; j++) {
        const h = this.stripHeader(SD_OP.REMOVE_PEER, oid, g, j, 0, 0, false);
        h.flags |= SD_FLAG.CMD_RECOVERY;
        reqs.push(this.s.gateway.peer(n, h, undefined, deadline).catch((e) => {
          if (resultOf(e) !== SD_RES.NO_OBJ) throw e;
        }));
      }
    }
    const failed = (await Promise.allSettled(reqs)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw failed.find((r) => RETRYABLE.has(resultOf(r.reason)))?.reason ?? failed[0]!.reason;
  }
}

/** A holder list to look for strips on; with tgtEpoch, reads are recovery reads as of that epoch. */
interface StripSource {
  nodes: SdNode[];
  tgtEpoch?: number;
}

/**
 * Strips of one object range collected from candidate nodes. The candidates of
 * strip j are, list by list, the node at position j, and every node of a list
 * shorter than d+p. Each (node, strip, epoch) is asked once.
 */
class StripGather {
  readonly slots: (Buffer | undefined)[];
  private readonly errors: unknown[] = [];
  private readonly tried = new Set<string>();
  private readonly sources: StripSource[] = [];

  constructor(
    private readonly ec: EcIo, private readonly oid: bigint, private readonly g: EcGeometry,
    private readonly offset: number, private readonly length: number, sources: StripSource[],
  ) {
    this.slots = new Array(g.code.total).fill(undefined);
    this.addSources(sources);
  }

  addSources(lists: StripSource[]): void {
    this.sources.push(...lists);
  }

  get count(): number {
    return this.slots.filter((s) => s !== undefined).length;
  }

  missing(indices: readonly number[]): number[] {
    return indices.filter((j) => this.slots[j] === undefined);
  }

  private candidates(j: number): { node: SdNode; tgtEpoch?: number }[] {
    const out: { node: SdNode; tgtEpoch?: number }[] = [];
    const add = (node: SdNode | undefined, tgtEpoch: number | undefined) => {
      if (!node || !this.ec.isMember(node)) return;
      if (out.some((c) => sameNode(c.node, node) && c.tgtEpoch === tgtEpoch)) return;
      out.push({ node, tgtEpoch });
    };
    for (const src of this.sources) add(src.nodes[j], src.tgtEpoch);
    for (const src of this.sources) {
      if (src.nodes.length < this.g.code.total) for (const n of src.nodes) add(n, src.tgtEpoch);
    }
    return out;
  }

  /** Look for strip j on its candidates in turn; true once it is here. */
  async one(j: number): Promise<boolean> {
    if (this.slots[j]) return true;
    for (const { node, tgtEpoch } of this.candidates(j)) {
      const key = `${nodeKey(node)}/${j}/${tgtEpoch ?? 'now'}`;
      if (this.tried.has(key)) continue;
      this.tried.add(key);
      try {
        this.slots[j] = await this.ec.fetchStrip(node, this.oid, this.g, j, this.offset, this.length, tgtEpoch);
        return true;
      } catch (e) {
        this.errors.push(e);
      }
    }
    return false;
  }

  /** Get `need` more strips among `indices`, trying them in order, `need` at a time. */
  async some(indices: readonly number[], need: number): Promise<number> {
    let got = 0;
    let next = 0;
    const worker = async () => {
      while (got < need && next < indices.length) {
        const j = indices[next++]!;
        if (this.slots[j]) continue;
        if (await this.one(j)) got++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(0, need) }, worker));
    return got;
  }

  /**
   * The error to report when too few strips were found: retryable first, so
   * the caller retries; then, when some strips were found, EIO: the object
   * exists but its other strips are on sheep that are down (recovery must not
   * take it for deleted: it would complete, and stale copies would be dropped).
   */
  failure(): unknown {
    const retry = this.errors.find((e) => RETRYABLE.has(resultOf(e)));
    if (retry) return retry;
    if (this.count > 0) {
      return new SdError(SD_RES.EIO, `only ${this.count} of the ${this.g.code.d} strips needed for ${this.oid.toString(16)} can be reached`);
    }
    const other = this.errors.find((e) => resultOf(e) !== SD_RES.NO_OBJ);
    return other ?? new SdError(SD_RES.NO_OBJ, `fewer than ${this.g.code.d} strips of ${this.oid.toString(16)} found`);
  }
}
