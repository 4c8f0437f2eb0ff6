import { randomBytes } from 'node:crypto';
import { assert, resultOf, SdError } from '../shared/errors.js';
import { grefOffset, INODE_OFF } from '../shared/inode.js';
import { nodeKey, sameNode, type SdNode } from '../shared/node.js';
import {
  isDataObj, isEcObj, isVdiObj, ledgerOid, objectSize, oidToVid, SD_INODE_DATA_INDEX, SD_INODE_GREF_OFFSET,
} from '../shared/oid.js';
import { SD_CLUSTER_FLAG, SD_FLAG } from '../shared/proto/flags.js';
import { SdHeader } from '../shared/proto/header.js';
import { opName, SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import { GATEWAY_RETRY_DEADLINE_MS } from '../shared/timeouts.js';
import type { Logger } from './log.js';
import type { Peers } from './peers.js';
import type { EpochWaiter } from './ports.js';
import type { VdiTable } from './vdi-table.js';
import { STAGE_TIMES_ON, stageNow, stageSince } from './stage-times.js';

/** Results after which the whole request is tried again on a fresh ring. */
const RETRYABLE: ReadonlySet<number> = new Set([
  SD_RES.OLD_NODE_VER, SD_RES.NEW_NODE_VER, SD_RES.NETWORK_ERROR, SD_RES.WAIT_FOR_JOIN,
  SD_RES.WAIT_FOR_FORMAT, SD_RES.KILLED, SD_RES.SHUTDOWN,
]);
/** Pause between retries when the epoch has not moved. */
const RETRY_PAUSE_MS = 200;
/** Peer requests that get no answer in this long count as a network error. */
export const PEER_TIMEOUT_MS = 30_000;

export interface ObjectIo {
  oid: bigint;
  offset: number;
  /** copies the client believes in (0 = the VDI's) */
  copies: number;
  /** EC policy the client believes in (0 = the VDI's) */
  copyPolicy: number;
  flags: number;
  /**
   * A client request's deadline (epoch ms, set when it was admitted): no peer
   * request is sent for it afterwards, and none waits past it, so a client
   * that waits GATEWAY_REQUEST_MAX_MS never sees it land after giving up.
   */
  deadline?: number;
  /**
   * The object cache writing back what it acknowledged before the object's
   * VDI became a snapshot: that data is the snapshot's, so it may still land.
   */
  writeBack?: boolean;
}

/**
 * Client-facing object I/O: place the object on the ring and talk to the
 * nodes that hold it: all of them for writes, one healthy copy for reads.
 * This sheep's own copy is handled in-process.
 */
/** How erasure-coded objects are read and written (EcIo implements it). */
export interface StripIo {
  read(io: ObjectIo, length: number): Promise<Buffer>;
  write(io: ObjectIo, data: Buffer, create: boolean): Promise<void>;
  remove(io: ObjectIo): Promise<void>;
}

/** What the gateway is given. */
export interface GatewayDeps {
  readonly log: Logger;
  readonly group: EpochWaiter;
  readonly vdis: Pick<VdiTable, 'get'>;
  readonly peers: Pick<Peers, 'peerConn' | 'readyPeerConn'>;
  readonly ec: StripIo;
  readonly self: SdNode;
  readonly stopping: boolean;
  /** Run a peer op against this sheep's own store, without a socket. */
  peerLocal(hdr: SdHeader, payload?: Buffer, into?: Buffer): Promise<{ hdr: SdHeader; data: Buffer }>;
}

export class Gateway {
  constructor(private readonly s: GatewayDeps) {}

  /** Block size shift of the VDI an object belongs to. */
  blockShift(oid: bigint): number {
    return this.s.vdis.get(oidToVid(oid))?.blockSizeShift || this.s.group.cinfo.blockSizeShift || 22;
  }

  objSize(oid: bigint): number {
    return objectSize(oid, this.blockShift(oid));
  }

  /** Copies to place: the client's number, else the VDI's, else the cluster default. */
  copies(oid: bigint, requested: number): number {
    if (requested) return requested;
    const vdi = this.s.vdis.get(oidToVid(oid));
    return vdi?.nrCopies || this.s.group.cinfo.nrCopies || 3;
  }

  copyPolicy(oid: bigint, requested: number): number {
    if (requested) return requested;
    return this.s.vdis.get(oidToVid(oid))?.copyPolicy ?? this.s.group.cinfo.copyPolicy;
  }

  private checkRange(oid: bigint, offset: number, length: number): void {
    if (offset + length > this.objSize(oid)) {
      throw new SdError(SD_RES.INVALID_PARMS, `range ${offset}+${length} beyond object ${oid.toString(16)}`);
    }
  }

  /** A client write to a snapshot's data is refused (the object cache asks too, before taking one). */
  writable(io: ObjectIo): void {
    // only data objects of snapshots are read-only (attributes live under the name's hash vid)
    if (!isDataObj(io.oid) || io.writeBack) return;
    if (this.s.vdis.get(oidToVid(io.oid))?.snapshot) throw new SdError(SD_RES.READONLY);
  }

  /**
   * Strict mode (format -t): a write is refused while fewer zones hold data
   * than the VDI's copies (d+p strips for erasure code), so every acknowledged
   * write has its full redundancy.
   */
  private strictCheck(oid: bigint): void {
    if ((this.s.group.cinfo.flags & SD_CLUSTER_FLAG.STRICT) === 0) return;
    const ring = this.s.group.ring;
    if (ring.isEmpty || ring.nrZones < this.copies(oid, 0)) {
      throw new SdError(SD_RES.HALT, `strict mode: ${ring.nrZones} zones for ${this.copies(oid, 0)} copies`);
    }
  }

  private holders(oid: bigint, copies: number): SdNode[] {
    const ring = this.s.group.ring;
    if (ring.isEmpty) throw new SdError(SD_RES.HALT);
    return ring.holders(oid, copies);
  }

  private isSelf(n: SdNode): boolean {
    return sameNode(n, this.s.self);
  }

  /**
   * Run fn until it succeeds, retrying on a fresh ring after retryable results.
   * fn gets the deadline: its peer requests wait no longer (so the whole
   * request ends within GATEWAY_REQUEST_MAX_MS, which clients outlive).
   */
  async retrying<T>(what: string, fn: (deadline: number) => Promise<T>, deadline = Date.now() + GATEWAY_RETRY_DEADLINE_MS): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const epoch = this.s.group.epoch;
      try {
        return await fn(deadline);
      } catch (e) {
        const code = resultOf(e);
        if (!RETRYABLE.has(code) || Date.now() > deadline || this.s.stopping) throw e;
        if (attempt === 0 || attempt % 20 === 0) {
          this.s.log.info('gateway', `${what}: ${(e as Error).message}; retrying`);
        }
        if (this.s.group.epoch === epoch) await this.s.group.waitForEpoch(epoch + 1, RETRY_PAUSE_MS).catch(() => {});
      }
    }
  }

  /**
   * Send a peer request to one node (or run it here when the node is us),
   * waiting PEER_TIMEOUT_MS at most, and not past `deadline` when given.
   * `into`: a buffer for the reply payload, done with when this settles.
   */
  async peer(node: SdNode, hdr: SdHeader, payload?: Buffer, deadline?: number, into?: Buffer): Promise<{ hdr: SdHeader; data: Buffer }> {
    if (deadline !== undefined && Date.now() >= deadline) {
      // the fence: the client may have given up; nothing may land after that
      throw new SdError(SD_RES.NETWORK_ERROR, 'the request ran out of time');
    }
    const t0 = stageNow();
    if (this.isSelf(node)) {
      if (!STAGE_TIMES_ON) return this.s.peerLocal(hdr, payload, into);
      const r = await this.s.peerLocal(hdr, payload, into);
      stageSince(`${opName(hdr.opcode)} here`, t0);
      return r;
    }
    // a connection that is up sends at once: no turn of the event loop before the bytes leave
    const conn = this.s.peers.readyPeerConn(node) ?? await this.s.peers.peerConn(node);
    const timeoutMs = deadline === undefined ? PEER_TIMEOUT_MS : Math.max(1, Math.min(PEER_TIMEOUT_MS, deadline - Date.now()));
    const r = await conn.request(hdr, payload, timeoutMs, into);
    if (STAGE_TIMES_ON) stageSince(`${opName(hdr.opcode)} round trip`, t0);
    if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, `from ${node.port}`);
    return r;
  }

  private peerHeader(op: number, io: ObjectIo, dataLength: number, write: boolean): SdHeader {
    const h = SdHeader.request(op, (io.flags & ~SD_FLAG.CMD_WRITE) | (write ? SD_FLAG.CMD_WRITE : 0), dataLength);
    h.epoch = this.s.group.epoch;
    h.objOid = io.oid;
    h.objOffset = io.offset;
    h.objCopies = io.copies;
    h.objCopyPolicy = io.copyPolicy;
    return h;
  }

  // --- the gateway operations ------------------------------------------------

  /**
   * `into`: a buffer (at least `length` bytes) the data may be read into; the
   * holders are asked one after the other, so it is done with when this settles.
   */
  async read(io: ObjectIo, length: number, into?: Buffer): Promise<Buffer> {
    this.checkRange(io.oid, io.offset, length);
    if (isEcObj(io.oid, this.copyPolicy(io.oid, io.copyPolicy))) return this.s.ec.read(io, length);
    return this.retrying(`read ${io.oid.toString(16)}`, async (deadline) => {
      const holders = this.holders(io.oid, this.copies(io.oid, io.copies));
      const local = holders.findIndex((n) => this.isSelf(n));
      const order = local >= 0 ? [local] : [];
      const start = Math.floor(Math.random() * holders.length);
      for (let i = 0; i < holders.length; i++) {
        const j = (start + i) % holders.length;
        if (j !== local) order.push(j);
      }
      // (the error is made only when needed: an Error captures a stack, ~10 µs)
      let last: unknown;
      for (const j of order) {
        try {
          const r = await this.peer(holders[j]!, this.peerHeader(SD_OP.READ_PEER, io, length, false), undefined, deadline, into);
          return r.data;
        } catch (e) {
          last = e;
        }
      }
      throw last ?? new SdError(SD_RES.NO_OBJ);
    }, io.deadline);
  }

  /** Send the same peer op with the same payload to every holder; all must succeed. */
  private async fanOut(op: number, io: ObjectIo, payload: Buffer | undefined, dataLength: number): Promise<void> {
    await this.retrying(`${op.toString(16)} ${io.oid.toString(16)}`, async (deadline) => {
      const holders = this.holders(io.oid, this.copies(io.oid, io.copies));
      const hdr = this.peerHeader(op, io, dataLength, payload !== undefined);
      // the peers' requests leave first; this sheep's own copy (synchronous
      // I/O with -n) is written while they travel
      const sent: Promise<{ hdr: SdHeader; data: Buffer }>[] = new Array(holders.length);
      holders.forEach((n, i) => { if (!this.isSelf(n)) sent[i] = this.peer(n, hdr, payload, deadline); });
      holders.forEach((n, i) => { if (this.isSelf(n)) sent[i] = this.peer(n, hdr, payload, deadline); });
      const results = await Promise.allSettled(sent);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0) throw failed[failed.length - 1]!.reason;
      // A holder that moved to a new epoch while writing may have been read by
      // recovery before our bytes landed: write again on the new ring (the
      // write is idempotent) so no acknowledged write misses a new owner.
      if (payload !== undefined && results.some((r) => r.status === 'fulfilled' && ((r.value.hdr.epoch - hdr.epoch) | 0) > 0)) {
        throw new SdError(SD_RES.NEW_NODE_VER, 'the epoch changed during the write');
      }
    }, io.deadline);
  }

  async createAndWrite(io: ObjectIo, data: Buffer, cowOid?: bigint): Promise<void> {
    this.checkRange(io.oid, io.offset, data.length);
    this.writable(io);
    this.strictCheck(io.oid);
    if (cowOid !== undefined) {
      // copy-on-write: the new object starts as a copy of the base object
      const size = this.objSize(io.oid);
      if (io.offset !== 0 || data.length !== size) {
        const base = await this.read({ ...io, oid: cowOid, offset: 0 }, size);
        data.copy(base, io.offset);
        data = base;
        io = { ...io, offset: 0 };
      }
    }
    if (isEcObj(io.oid, this.copyPolicy(io.oid, io.copyPolicy))) return this.s.ec.write(io, data, true);
    await this.fanOut(SD_OP.CREATE_AND_WRITE_PEER, io, data, data.length);
  }

  async write(io: ObjectIo, data: Buffer): Promise<void> {
    this.checkRange(io.oid, io.offset, data.length);
    this.writable(io);
    this.strictCheck(io.oid);
    if (isVdiObj(io.oid) && touchesIndexOnly(io.offset, data.length)) return this.writeIndex(io, data);
    if (isEcObj(io.oid, this.copyPolicy(io.oid, io.copyPolicy))) return this.s.ec.write(io, data, false);
    await this.fanOut(SD_OP.WRITE_PEER, io, data, data.length);
  }

  async remove(io: ObjectIo): Promise<void> {
    if (isEcObj(io.oid, this.copyPolicy(io.oid, io.copyPolicy))) return this.s.ec.remove(io);
    await this.fanOut(SD_OP.REMOVE_PEER, io, undefined, 0);
  }

  /**
   * A write that lands entirely in an inode's data_vdi_id index: besides the
   * write, the matching generation references are zeroed and every replaced
   * object loses one reference (freed at once when it had no sharers).
   */
  private async writeIndex(io: ObjectIo, data: Buffer): Promise<void> {
    const first = (io.offset - INODE_OFF.dataVdiId) >>> 2;
    const count = Math.ceil((io.offset + data.length - INODE_OFF.dataVdiId) / 4) - first;
    const oldIndex = await this.read({ ...io, offset: INODE_OFF.dataVdiId + 4 * first }, 4 * count);
    const oldGref = await this.read({ ...io, offset: grefOffset(first) }, 8 * count);
    await this.fanOut(SD_OP.WRITE_PEER, io, data, data.length);
    const newIndex = Buffer.from(oldIndex);
    data.copy(newIndex, io.offset - (INODE_OFF.dataVdiId + 4 * first));
    if (oldGref.some((b) => b !== 0)) {
      await this.fanOut(SD_OP.WRITE_PEER, { ...io, offset: grefOffset(first) }, Buffer.alloc(8 * count), 8 * count);
    }
    for (let i = 0; i < count; i++) {
      const oldVid = oldIndex.readUInt32LE(4 * i);
      const newVid = newIndex.readUInt32LE(4 * i);
      if (oldVid === 0 || oldVid === newVid) continue;
      const gen = oldGref.readInt32LE(8 * i);
      const cnt = oldGref.readInt32LE(8 * i + 4);
      await this.dropReference(oldVid, first + i, gen, cnt, io.deadline).catch((e) => {
        this.s.log.warn('gateway', `dropping a reference to object ${oldVid.toString(16)}:${first + i} failed: ${(e as Error).message}`);
      });
    }
  }

  private async dropReference(vid: number, idx: number, generation: number, count: number, deadline?: number): Promise<void> {
    const oid = (BigInt(vid) << 32n) | BigInt(idx);
    if (generation === 0 && count === 0) {
      await this.remove({ oid, offset: 0, copies: 0, copyPolicy: 0, flags: 0, deadline }).catch((e) => {
        if (resultOf(e) !== SD_RES.NO_OBJ) throw e;
      });
      return;
    }
    await this.decref(ledgerOid(oid), generation, count, this.copies(oid, 0), deadline);
  }

  /**
   * DECREF_OBJ: forward to the holders of the ledger object. DECREF is not
   * idempotent, so a retry goes only to the holders that have not applied it:
   * never to one that answered success, and never to a holder that joined the
   * ring meanwhile (its copy may come from one that had already applied it).
   * The worst a ring change can do is leave a count too high (space kept),
   * never too low (an object in use freed). A holder whose answer was lost may
   * have applied it: every attempt carries the same token, by which the holder
   * recognises a repeat.
   */
  async decref(ledger: bigint, generation: number, count: number, copies: number, deadline?: number): Promise<void> {
    const applied = new Set<string>();
    let asked: Set<string> | undefined;
    const token = randomBytes(8).readBigUInt64LE(0) || 1n;
    await this.retrying(`decref ${ledger.toString(16)}`, async (deadline) => {
      const holders = this.holders(ledger, copies);
      asked ??= new Set(holders.map(nodeKey));
      const todo = holders.filter((n) => !applied.has(nodeKey(n)) && asked!.has(nodeKey(n)));
      const hdr = SdHeader.request(SD_OP.DECREF_PEER);
      hdr.epoch = this.s.group.epoch;
      hdr.refOid = ledger;
      hdr.refGeneration = generation;
      hdr.refCount = count;
      hdr.refToken = token;
      const results = await Promise.allSettled(todo.map((n) => this.peer(n, hdr, undefined, deadline)));
      results.forEach((r, i) => { if (r.status === 'fulfilled') applied.add(nodeKey(todo[i]!)); });
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0) throw failed[failed.length - 1]!.reason;
    }, deadline);
  }

  /** Is this node the first holder of an object (the one that acts for all copies)? */
  isFirstHolder(oid: bigint, copies: number): boolean {
    const h = this.holders(oid, copies);
    assert(h.length > 0, 'an object has holders');
    return this.isSelf(h[0]!);
  }
}

/** True when [offset, offset+len) lies inside the inode's data_vdi_id array. */
export function touchesIndexOnly(offset: number, len: number): boolean {
  return len > 0 && offset >= INODE_OFF.dataVdiId && offset + len <= SD_INODE_GREF_OFFSET
    && (offset - INODE_OFF.dataVdiId) / 4 < SD_INODE_DATA_INDEX;
}
