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
   * its bytes (the whole strip file, `object size / d` bytes): the strip
   * itself where a holder has it, else decoded from d others, all of one write
   * generation (see EpochWalk: an older epoch's copies are used only where the
   * newer epochs prove that no write completed in them).
   *
   * @param oid an erasure-coded object (its VDI's policy gives d and p)
   * @param stripIndex 0 … d+p−1: data strips first, then parity
   * @param sources holder lists (ring order, as `VnodeRing.holders(oid, d+p)`)
   *   of the epochs to look back on, besides the ones this node knows;
   *   nodes that are not current members cannot answer
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
    const walk = new EpochWalk(this, oid, g, 0, g.stripFileSize);
    await walk.run(lists, () => walk.has(stripIndex) || walk.count >= d);
    if (walk.has(stripIndex)) {
      this.s.log.debug('ec', `${oid.toString(16)}: strip ${stripIndex} from ${walk.whence(stripIndex)}`);
      return walk.slots[stripIndex]!;
    }
    if (walk.count < d) throw walk.failure();
    this.s.log.debug('ec', `${oid.toString(16)}: strip ${stripIndex} decoded from ${walk.whence()}`);
    return Buffer.from(g.code.reconstruct(walk.slots, [stripIndex])[0]!);
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
    const data = [...Array(d).keys()];
    return this.s.gateway.retrying(`read strips of ${oid.toString(16)}`, async () => {
      const holders = this.holders(oid, g);
      const walk = new EpochWalk(this, oid, g, first * w, count * w);
      // the data strips from their current holders (each waits for its own
      // recovery of the object): the common case, nothing to decode
      await walk.read({ nodes: holders }, data);
      if (walk.missing(data).length > 0) {
        // then as recovery would: the current epoch, and older ones only as far
        // as they are sure to hold the newest generation (EpochWalk)
        const now = this.s.group.epoch;
        await walk.run([{ nodes: holders, tgtEpoch: now }, ...await this.history(oid, g)],
          () => walk.missing(data).length === 0 || walk.count >= d);
        if (walk.count < d) throw walk.failure();
        this.s.log.debug('ec', `${oid.toString(16)}: data strips ${walk.missing(data).join(',')} decoded from ${walk.whence()}`);
      }
      const strips = walk.missing(data).length === 0
        ? data.map((j) => walk.slots[j]!)
        : g.code.reconstruct(walk.slots, data);
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
    // a holder that lacks its strip (its recovery of the object failed, or
    // has not run) makes the send retry: recovery retries it, a peer request
    // for it first. Never rewrite the object from here: another gateway's
    // write to it may land in between, and the rewrite would undo it on some
    // holders (an acknowledged block torn)
    await this.sendStrips(io.oid, g, op, first * g.code.stripSize, strips, io.deadline);
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
      const retry = failed.find((e) => RETRYABLE.has(resultOf(e)));
      if (retry) throw retry;
      const missing = failed.filter((e) => resultOf(e) === SD_RES.NO_OBJ).length;
      // no holder has the object: it does not exist; some have it: the others' strips are to come
      if (missing > 0 && missing < holders.length) {
        throw new SdError(SD_RES.NETWORK_ERROR, `${missing} holders lack their strip of ${oid.toString(16)}`);
      }
      throw failed.find((e) => resultOf(e) !== SD_RES.NO_OBJ) ?? failed[0];
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

/** The holders of one epoch (ring order); with tgtEpoch, reads are recovery reads as of that epoch. */
interface StripSource {
  nodes: SdNode[];
  tgtEpoch?: number;
}

/**
 * Strips of one object range, gathered epoch by epoch, newest first, so that
 * what is decoded is one write generation (issue 13).
 *
 * Strip j of epoch e is asked of the j-th holder of that epoch's ring, as of
 * e: its live copy, or a stale one moved aside at e or later. A write that
 * completed in epoch e reached every holder of e, so the copies as of e are of
 * its generation or newer; a copy as of an OLDER epoch may lack that write and
 * must not be mixed in. An older epoch is therefore looked at only when epoch
 * e shows that no write completed in it: one of its holders answered that it
 * has no copy as of e (it never had its strip then), or e had fewer holders
 * than data strips (no write could complete). Copies found in such an epoch
 * are of the same generation as the older epoch's (recovered from it) and are
 * kept. When a holder of e cannot be reached and the others are too few, the
 * walk stops: the strips as of e are on that holder, and older ones would
 * decode a mix (a block acknowledged in e read back torn).
 *
 * Only the j-th holder is asked for strip j: another node's copy of strip j
 * (from an epoch where it held j) is as old as that epoch.
 */
class EpochWalk {
  readonly slots: (Buffer | undefined)[];
  private readonly from: string[] = [];
  private readonly errors: unknown[] = [];
  /** the walk stopped at an epoch some of whose holders could not tell what they hold */
  private unsure = false;

  constructor(
    private readonly ec: EcIo, private readonly oid: bigint, private readonly g: EcGeometry,
    private readonly offset: number, private readonly length: number,
  ) {
    this.slots = new Array(g.code.total).fill(undefined);
  }

  get count(): number {
    return this.slots.filter((s) => s !== undefined).length;
  }

  has(j: number): boolean {
    return this.slots[j] !== undefined;
  }

  missing(indices: readonly number[]): number[] {
    return indices.filter((j) => this.slots[j] === undefined);
  }

  /** Where the strips came from (for the log): `j:port@epoch`. */
  whence(j?: number): string {
    return (j === undefined ? this.from.filter(Boolean) : [this.from[j]]).join(' ');
  }

  /**
   * Ask the holders of one list for the strips `indices` still missing. Per
   * index: 'have' (now here), 'none' (the holder has no copy), 'unknown'
   * (not a member, did not answer, or the list has no holder for it).
   */
  async read(src: StripSource, indices: readonly number[]): Promise<('have' | 'none' | 'unknown')[]> {
    const out: ('have' | 'none' | 'unknown')[] = new Array(this.g.code.total).fill('unknown');
    await Promise.all(indices.map(async (j) => {
      if (this.slots[j]) {
        out[j] = 'have';
        return;
      }
      const node = src.nodes[j];
      if (!node || !this.ec.isMember(node)) return;
      try {
        const data = await this.ec.fetchStrip(node, this.oid, this.g, j, this.offset, this.length, src.tgtEpoch);
        if (!this.slots[j]) {
          this.slots[j] = data;
          this.from[j] = `${j}:${node.port}@${src.tgtEpoch ?? 'now'}`;
        }
        out[j] = 'have';
      } catch (e) {
        this.errors.push(e);
        out[j] = resultOf(e) === SD_RES.NO_OBJ ? 'none' : 'unknown';
      }
    }));
    return out;
  }

  /**
   * Walk the lists, newest epoch first (duplicate epochs once), until `enough`
   * or until an epoch may hold a write that older epochs lack.
   */
  async run(lists: readonly StripSource[], enough: () => boolean): Promise<void> {
    const { d, total } = this.g.code;
    const all = [...Array(total).keys()];
    const seen = new Set<number>();
    const ordered = [...lists].sort((a, b) => (b.tgtEpoch ?? 0) - (a.tgtEpoch ?? 0));
    let last: number | undefined;
    for (const src of ordered) {
      if (src.tgtEpoch !== undefined) {
        if (seen.has(src.tgtEpoch)) continue;
        seen.add(src.tgtEpoch);
        // an epoch whose members are unknown here may hold a write: no further back
        if (last !== undefined && src.tgtEpoch < last - 1) {
          this.unsure = true;
          return;
        }
        last = src.tgtEpoch;
      }
      if (enough()) return;
      const held = Math.min(src.nodes.length, total);
      const got = await this.read(src, all);
      if (enough()) return;
      // fewer holders than data strips: no write could complete in this epoch
      if (held < d) continue;
      // a holder without its strip as of this epoch: no write completed in it
      if (got.slice(0, held).includes('none')) continue;
      // every holder had its strip, or some could not tell: this epoch may
      // hold the newest generation, which older epochs lack
      this.unsure = got.slice(0, held).includes('unknown');
      return;
    }
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
    if (this.count > 0 || this.unsure) {
      return new SdError(SD_RES.EIO, `only ${this.count} of the ${this.g.code.d} strips needed for ${this.oid.toString(16)} can be reached`);
    }
    const other = this.errors.find((e) => resultOf(e) !== SD_RES.NO_OBJ);
    return other ?? new SdError(SD_RES.NO_OBJ, `fewer than ${this.g.code.d} strips of ${this.oid.toString(16)} found`);
  }
}
