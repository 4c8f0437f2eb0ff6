import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { assert, resultOf, SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Logger } from '../log.js';
import { KeyedMutex } from './mutex.js';
import { objectName, type ObjectRef, type ObjectStore, type SpaceInfo } from './store.js';

/** The ring file, in `-j dir=` or the base directory. */
export const JOURNAL_FILE = 'journal_ring';
const SECTOR = 512;
const MAGIC = 0xfee1900d;
/** Most bytes of records written with one pwrite (group commit). */
const JOURNAL_BATCH_MAX_BYTES = 8 * 1024 * 1024;
/** Bytes read at once when scanning the ring at start-up. */
const SCAN_CHUNK_BYTES = 8 * 1024 * 1024;

const REC = { WRITE: 0, CREATE: 1, REMOVE: 2, STALE: 3, CHECKPOINT: 4 } as const;
type RecType = (typeof REC)[keyof typeof REC];

/*
 * Record: one 512-byte header sector, then the payload padded to 512 bytes.
 *   0 u32 magic   4 u16 type   8 u64 oid   16 i32 ec (-1: replica)   20 u32 lap
 *  24 u64 seq    32 u64 offset 40 u32 payload length   44 u32 full size (create)
 *  48 u32 epoch (create, stale)   52 u32 crc32 of the payload   508 u32 crc32 of bytes 0..507
 * A record counts only if both checksums hold: a torn write is never replayed.
 */
interface Rec {
  type: RecType;
  ref: ObjectRef;
  lap: number;
  seq: bigint;
  offset: number;
  fullSize: number;
  epoch: number;
  data: Buffer;
}

function recordBytes(payload: number): number {
  return SECTOR + Math.ceil(payload / SECTOR) * SECTOR;
}

function encode(r: Rec, out: Buffer, at: number): number {
  const h = out.subarray(at, at + SECTOR);
  h.fill(0);
  h.writeUInt32LE(MAGIC, 0);
  h.writeUInt16LE(r.type, 4);
  h.writeBigUInt64LE(r.ref.oid, 8);
  h.writeInt32LE(r.ref.ec ?? -1, 16);
  h.writeUInt32LE(r.lap >>> 0, 20);
  h.writeBigUInt64LE(r.seq, 24);
  h.writeBigUInt64LE(BigInt(r.offset), 32);
  h.writeUInt32LE(r.data.length, 40);
  h.writeUInt32LE(r.fullSize >>> 0, 44);
  h.writeUInt32LE(r.epoch >>> 0, 48);
  h.writeUInt32LE(crc32(r.data), 52);
  h.writeUInt32LE(crc32(h.subarray(0, 508)), 508);
  r.data.copy(out, at + SECTOR);
  const len = recordBytes(r.data.length);
  out.fill(0, at + SECTOR + r.data.length, at + len);
  return len;
}

/** A valid header at buf[at..]: its fields (the payload is checked by the caller). */
function decodeHeader(buf: Buffer, at: number): (Omit<Rec, 'data'> & { length: number; crc: number }) | undefined {
  if (at + SECTOR > buf.length || buf.readUInt32LE(at) !== MAGIC) return undefined;
  if (crc32(buf.subarray(at, at + 508)) !== buf.readUInt32LE(at + 508)) return undefined;
  const type = buf.readUInt16LE(at + 4) as RecType;
  if (type > REC.CHECKPOINT) return undefined;
  const ec = buf.readInt32LE(at + 16);
  return {
    type, ref: { oid: buf.readBigUInt64LE(at + 8), ec: ec < 0 ? undefined : ec },
    lap: buf.readUInt32LE(at + 20), seq: buf.readBigUInt64LE(at + 24), offset: Number(buf.readBigUInt64LE(at + 32)),
    length: buf.readUInt32LE(at + 40), fullSize: buf.readUInt32LE(at + 44), epoch: buf.readUInt32LE(at + 48),
    crc: buf.readUInt32LE(at + 52),
  };
}

export interface JournalOptions {
  /** directory of the ring file */
  dir: string;
  /** ring size in bytes */
  size: number;
  /** -j ...,skip: do not replay at start */
  skip: boolean;
  /** -n: the ring is not written O_DSYNC either */
  nosync: boolean;
  log: Logger;
}

interface Pending {
  rec: Rec;
  done: () => void;
  fail: (e: unknown) => void;
}

/**
 * Write-ahead journal in front of another store. Every create, write, remove
 * and move-aside is appended to a ring file and is durable there (O_DSYNC)
 * before the inner store, opened without sync, is updated; the caller's promise
 * resolves after both. Concurrent appends share one pwrite (group commit).
 *
 * The ring runs in laps. Before it wraps, every record of the lap is applied
 * and the inner store is synced; then a checkpoint record of the new lap goes
 * to offset 0. Replay at start applies the valid records of the newest lap in
 * sequence order: they are exactly the operations since the last point where
 * the inner store was durable, and re-applying them is idempotent. A clean
 * close syncs the inner store and starts a new, empty lap.
 */
export class JournalStore implements ObjectStore {
  readonly kind: string;
  private fh: fsp.FileHandle | undefined;
  private lap = 0;
  private seq = 0n;
  private pos = 0;
  private queue: Pending[] = [];
  private flushing = false;
  /** records durable in the ring but not yet applied to the inner store */
  private applying = 0;
  private applied: (() => void)[] = [];
  private readonly lock = new KeyedMutex();
  private readonly path: string;

  constructor(readonly inner: ObjectStore, private readonly o: JournalOptions) {
    this.kind = inner.kind;
    this.path = join(o.dir, JOURNAL_FILE);
    assert(o.size >= 16 * SECTOR, 'a journal holds at least a few records');
  }

  async init(epoch: number): Promise<void> {
    await this.inner.init(epoch);
    await fsp.mkdir(this.o.dir, { recursive: true });
    let lap = 0;
    try {
      const st = await fsp.stat(this.path);
      lap = await this.replay(st.size);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await this.prepareFile();
    this.fh = await fsp.open(this.path, constants.O_RDWR | (this.o.nosync ? 0 : constants.O_DSYNC));
    await this.startLap(lap + 1);
    this.o.log.info('journal', `journal ${this.path} (${this.o.size} bytes) in front of the ${this.inner.kind} store`);
  }

  /** The ring file at its size, its blocks allocated (writes then only overwrite). */
  private async prepareFile(): Promise<void> {
    const st = await fsp.stat(this.path).catch(() => undefined);
    if (st && st.size === this.o.size && st.blocks * 512 >= this.o.size) return;
    const fh = await fsp.open(this.path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      const zeros = Buffer.alloc(Math.min(SCAN_CHUNK_BYTES, this.o.size));
      for (let at = 0; at < this.o.size; at += zeros.length) {
        await fh.write(zeros, 0, Math.min(zeros.length, this.o.size - at), at);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Apply the newest lap; returns that lap number. */
  private async replay(fileSize: number): Promise<number> {
    const fh = await fsp.open(this.path, constants.O_RDONLY);
    const found: { lap: number; seq: bigint; at: number; length: number; crc: number; hdr: Omit<Rec, 'data'> }[] = [];
    try {
      for (let base = 0; base < fileSize; base += SCAN_CHUNK_BYTES) {
        const len = Math.min(SCAN_CHUNK_BYTES, fileSize - base);
        const buf = Buffer.alloc(len);
        await readFully(fh, buf, base);
        for (let off = 0; off < len; off += SECTOR) {
          const h = decodeHeader(buf, off);
          if (h) found.push({ lap: h.lap, seq: h.seq, at: base + off, length: h.length, crc: h.crc, hdr: h });
        }
      }
      if (found.length === 0) return 0;
      const lap = Math.max(...found.map((f) => f.lap));
      if (this.o.skip) {
        this.o.log.warn('journal', 'replay skipped (-j ...,skip)');
        return lap;
      }
      const todo = found.filter((f) => f.lap === lap && f.hdr.type !== REC.CHECKPOINT)
        .sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
      let n = 0;
      for (const f of todo) {
        if (f.at + SECTOR + f.length > fileSize) continue;
        const data = Buffer.alloc(f.length);
        await readFully(fh, data, f.at + SECTOR);
        if (crc32(data) !== f.crc) continue; // torn: never acknowledged
        await this.apply({ ...f.hdr, data }, true);
        n++;
      }
      await this.inner.sync();
      if (n > 0) this.o.log.info('journal', `replayed ${n} records of lap ${lap}`);
      return lap;
    } finally {
      await fh.close();
    }
  }

  /** Begin a lap: its checkpoint record at offset 0 makes the older records history. */
  private async startLap(lap: number): Promise<void> {
    this.lap = lap;
    this.pos = 0;
    const buf = Buffer.alloc(SECTOR);
    encode({ type: REC.CHECKPOINT, ref: { oid: 0n, ec: undefined }, lap, seq: this.seq++, offset: 0, fullSize: 0, epoch: 0, data: Buffer.alloc(0) }, buf, 0);
    await this.fh!.write(buf, 0, SECTOR, 0);
    this.pos = SECTOR;
  }

  /** Apply one record to the inner store; replaying tolerates what is already done. */
  private async apply(r: Rec, replaying: boolean): Promise<void> {
    const st = this.inner;
    try {
      switch (r.type) {
        case REC.CREATE: await st.create(r.ref, r.offset, r.data, r.fullSize, r.epoch); break;
        case REC.WRITE: await st.write(r.ref, r.offset, r.data); break;
        case REC.REMOVE: await st.remove(r.ref); break;
        case REC.STALE: if (!replaying || st.exists(r.ref)) await st.moveToStale(r.ref, r.epoch); break;
        default: break;
      }
    } catch (e) {
      if (!replaying || resultOf(e) !== SD_RES.NO_OBJ) throw e;
    }
  }

  /** Make a record durable in the ring (batched with its neighbours). */
  private append(rec: Omit<Rec, 'lap' | 'seq'>): Promise<void> {
    if (recordBytes(rec.data.length) > (this.o.size - SECTOR) / 2) {
      return Promise.reject(new SdError(SD_RES.SYSTEM_ERROR, 'record too large for the journal'));
    }
    return new Promise((done, fail) => {
      this.queue.push({ rec: { ...rec, lap: 0, seq: 0n }, done, fail });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        if (this.pos + recordBytes(this.queue[0]!.rec.data.length) > this.o.size) {
          try {
            await this.wrap();
          } catch (e) {
            // the inner store is not durable: this lap's records stay the only
            // copy, so no new lap starts and nothing more can be logged for now
            this.o.log.err('journal', `cannot start a new lap: ${(e as Error).message}`);
            const err = resultOf(e) === SD_RES.NO_SPACE ? e : new SdError(SD_RES.EIO, `journal: ${(e as Error).message}`);
            for (const p of this.queue.splice(0)) p.fail(err);
            break;
          }
        }
        const batch: Pending[] = [];
        let bytes = 0;
        while (this.queue.length > 0) {
          const len = recordBytes(this.queue[0]!.rec.data.length);
          if (this.pos + bytes + len > this.o.size || (batch.length > 0 && bytes + len > JOURNAL_BATCH_MAX_BYTES)) break;
          batch.push(this.queue.shift()!);
          bytes += len;
        }
        const buf = Buffer.allocUnsafe(bytes);
        let at = 0;
        for (const p of batch) {
          p.rec.lap = this.lap;
          p.rec.seq = this.seq++;
          at += encode(p.rec, buf, at);
        }
        try {
          await writeFully(this.fh!, buf, this.pos);
          this.pos += bytes;
          this.applying += batch.length;
          for (const p of batch) p.done();
        } catch (e) {
          for (const p of batch) p.fail(resultOf(e) === SD_RES.NO_SPACE ? e : new SdError(SD_RES.EIO, `journal: ${(e as Error).message}`));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** End of the ring: let applies finish, make the inner store durable, start a new lap. */
  private async wrap(): Promise<void> {
    while (this.applying > 0) await new Promise<void>((resolve) => this.applied.push(resolve));
    await this.inner.sync();
    await this.startLap(this.lap + 1);
  }

  private appliedOne(): void {
    this.applying--;
    if (this.applying === 0) for (const w of this.applied.splice(0)) w();
  }

  /**
   * Journal then apply. Records enter the ring in call order (the queue is
   * filled synchronously) and each object's records are applied in that same
   * order, so replay and the live store agree; writes to one object still
   * share a group commit.
   */
  private logged(r: Omit<Rec, 'lap' | 'seq'>): Promise<void> {
    const durable = this.append(r);
    durable.catch(() => {}); // awaited below, maybe after other records of the object
    return this.lock.run(objectName(r.ref.oid, r.ref.ec), async () => {
      await durable;
      try {
        await this.apply(r as Rec, false);
      } finally {
        this.appliedOne();
      }
    });
  }

  // --- ObjectStore ------------------------------------------------------------------

  /** The ring's size and the bytes of it the current lap has used. */
  usage(): { size: number; used: number } {
    return { size: this.o.size, used: this.pos };
  }

  exists(ref: ObjectRef): boolean {
    return this.inner.exists(ref);
  }

  recheck(ref: ObjectRef): Promise<boolean> {
    return this.inner.recheck(ref);
  }

  read(ref: ObjectRef, offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return this.inner.read(ref, offset, length, into);
  }

  async write(ref: ObjectRef, offset: number, data: Buffer): Promise<void> {
    if (!this.inner.exists(ref)) throw new SdError(SD_RES.NO_OBJ);
    await this.logged({ type: REC.WRITE, ref, offset, fullSize: 0, epoch: 0, data });
  }

  async create(ref: ObjectRef, offset: number, data: Buffer, fullSize: number, epoch: number): Promise<void> {
    assert(offset + data.length <= fullSize, `create within the object (${offset}+${data.length} <= ${fullSize})`);
    await this.logged({ type: REC.CREATE, ref, offset, fullSize, epoch, data });
  }

  async remove(ref: ObjectRef): Promise<void> {
    if (!this.inner.exists(ref)) throw new SdError(SD_RES.NO_OBJ);
    await this.logged({ type: REC.REMOVE, ref, offset: 0, fullSize: 0, epoch: 0, data: Buffer.alloc(0) });
  }

  async moveToStale(ref: ObjectRef, epoch: number): Promise<void> {
    if (!this.inner.exists(ref)) throw new SdError(SD_RES.NO_OBJ);
    await this.logged({ type: REC.STALE, ref, offset: 0, fullSize: 0, epoch, data: Buffer.alloc(0) });
  }

  names(): IterableIterator<string> {
    return this.inner.names();
  }

  oids(): bigint[] {
    return this.inner.oids();
  }

  space(): Promise<SpaceInfo> {
    return this.inner.space();
  }

  /** Cluster format: nothing in the ring may come back after the purge. */
  async purge(): Promise<void> {
    await this.quiesce();
    await this.inner.purge();
    await this.inner.sync();
    await this.startLap(this.lap + 1);
  }

  staleEpoch(ref: ObjectRef): number | undefined {
    return this.inner.staleEpoch(ref);
  }

  readStale(ref: ObjectRef, epoch: number, offset: number, length: number): Promise<Buffer> {
    return this.inner.readStale(ref, epoch, offset, length);
  }

  staleOids(): bigint[] {
    return this.inner.staleOids();
  }

  purgeStale(): Promise<void> {
    return this.inner.purgeStale();
  }

  /** Everything resolved is durable in the ring already. */
  async sync(): Promise<void> {}

  private async quiesce(): Promise<void> {
    while (this.flushing || this.queue.length > 0 || this.applying > 0) {
      await new Promise<void>((resolve) => {
        if (this.applying > 0) this.applied.push(resolve);
        else setTimeout(resolve, 5);
      });
    }
  }

  /** Clean stop: the inner store becomes durable and the ring starts an empty lap. */
  async close(): Promise<void> {
    if (this.fh) {
      await this.quiesce();
      await this.inner.sync();
      await this.startLap(this.lap + 1);
      await this.fh.close();
      this.fh = undefined;
    }
    await this.inner.close();
  }
}

async function readFully(fh: fsp.FileHandle, buf: Buffer, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
}

async function writeFully(fh: fsp.FileHandle, buf: Buffer, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, pos + done);
    done += bytesWritten;
  }
}
