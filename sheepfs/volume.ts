/**
 * A VDI as a file: byte ranges split at object boundaries, each piece one
 * request, all pieces of a call in flight at once (cli.md §3.3, with the VDI's
 * own object size instead of a fixed 4 MiB).
 *
 *  - read: an unallocated piece is zeros, without a request; otherwise
 *    READ_OBJ of the object the index slot names (the VDI's own, or an
 *    ancestor's for a clone or snapshot).
 *  - write: WRITE_OBJ to an object the VDI owns; otherwise CREATE_AND_WRITE_OBJ
 *    of its own object (copy-on-write from the ancestor's, if any), then the
 *    index slot is pointed at it. Creations of one object are serialised, and
 *    later writes to that object wait for the creation, so that two writes
 *    never both create it (a creation writes the whole object).
 *  - A write is answered only after the sheep acknowledged it, and sheep
 *    acknowledges only when every copy has it: fsync has nothing left to wait
 *    for but writes still in flight.
 *
 * The index is cached; it is read again at every open() (another client may
 * have allocated objects meanwhile), keeping the slots this process set.
 */
import { countDataObjs, decodeInodeHeader, INODE_OFF, slotOffset, type InodeHeader } from '../shared/inode.js';
import { SD_INODE_DATA_INDEX, SD_INODE_HEADER_SIZE, vidToDataOid, vidToVdiOid } from '../shared/oid.js';
import { SD_FLAG } from '../shared/proto/flags.js';
import { fail, E } from './errno.js';
import type { SheepLink } from './link.js';
import { readObject, writeObject } from './object-io.js';

export interface IoFlags {
  /** the object cache flag (config/object_cache) */
  cache: boolean;
}

export class Volume {
  private index = new Uint32Array(0);
  private readonly creating = new Map<number, Promise<void>>();
  private readonly inflight = new Set<Promise<unknown>>();
  header!: InodeHeader;
  size = 0;
  /** open handles; the volume is dropped from the cache when it reaches 0 */
  opens = 0;

  constructor(private readonly link: SheepLink, readonly vid: number, readonly readOnly: boolean, private readonly flags: IoFlags) {}

  get objSize(): number {
    return 2 ** this.header.blockSizeShift;
  }

  /** Read the header and the index again; slots allocated here meanwhile are kept. */
  async refresh(): Promise<void> {
    const head = await readObject(this.link, vidToVdiOid(this.vid), SD_INODE_HEADER_SIZE, 0);
    const h = decodeInodeHeader(head);
    if (h.name === '') fail(E.ENOENT, `vdi ${this.vid.toString(16)} was deleted`);
    if (h.storePolicy === 1) fail(E.EOPNOTSUPP, 'hyper volumes (store policy 1) are not supported by sheepfs');
    const count = countDataObjs(h);
    const fresh = new Uint32Array(count);
    if (count > 0) {
      const raw = await readObject(this.link, vidToVdiOid(this.vid), count * 4, SD_INODE_HEADER_SIZE);
      for (let i = 0; i < count; i++) fresh[i] = raw.readUInt32LE(4 * i);
    }
    const old = this.index;
    for (let i = 0; i < Math.min(old.length, count); i++) if (fresh[i] === 0 && old[i] !== 0) fresh[i] = old[i]!;
    this.header = h;
    this.size = Number(head.readBigUInt64LE(INODE_OFF.vdiSize));
    this.index = fresh;
  }

  private ioFlags(): number {
    return this.flags.cache ? SD_FLAG.CMD_CACHE : 0;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => { this.inflight.delete(p); };
    p.then(done, done);
    return p;
  }

  /** Pieces of [pos, pos+len): object index, offset in the object, length, offset in the call. */
  private *pieces(pos: number, len: number): Generator<{ idx: number; off: number; len: number; at: number }> {
    const os = this.objSize;
    let at = 0;
    while (at < len) {
      const p = pos + at;
      const idx = Math.floor(p / os);
      const off = p - idx * os;
      const n = Math.min(len - at, os - off);
      yield { idx, off, len: n, at };
      at += n;
    }
  }

  async read(len: number, pos: number): Promise<Buffer> {
    if (pos >= this.size) return Buffer.alloc(0);
    const total = Math.min(len, this.size - pos);
    const os = this.objSize;
    const idx = Math.floor(pos / os);
    const owner = this.index[idx] ?? 0;
    if (owner !== 0 && pos + total <= (idx + 1) * os) {
      // one allocated object holds it all: the reply's payload is the answer (no copy)
      return this.track(readObject(this.link, vidToDataOid(owner, idx), total, pos - idx * os, this.ioFlags()));
    }
    const out = Buffer.alloc(total);
    const jobs: Promise<void>[] = [];
    for (const p of this.pieces(pos, total)) {
      const owner = this.index[p.idx] ?? 0;
      if (owner === 0) continue; // zeros
      jobs.push(readObject(this.link, vidToDataOid(owner, p.idx), p.len, p.off, this.ioFlags()).then((d) => { d.copy(out, p.at); }));
    }
    await this.track(Promise.all(jobs));
    return out;
  }

  async write(data: Buffer, pos: number): Promise<number> {
    if (this.readOnly) fail(E.EROFS);
    if (data.length === 0) return 0;
    if (pos >= this.size) fail(E.ENOSPC, 'write beyond the end of the volume');
    const total = Math.min(data.length, this.size - pos);
    const jobs: Promise<void>[] = [];
    for (const p of this.pieces(pos, total)) jobs.push(this.writePiece(p.idx, p.off, data.subarray(p.at, p.at + p.len)));
    await this.track(Promise.all(jobs));
    return total;
  }

  private async writePiece(idx: number, off: number, data: Buffer): Promise<void> {
    for (;;) {
      const pending = this.creating.get(idx);
      if (!pending) break;
      await pending.catch(() => {});
    }
    const owner = this.index[idx] ?? 0;
    const h = this.header;
    const oid = vidToDataOid(this.vid, idx);
    if (owner === this.vid) {
      await writeObject(this.link, { oid, data, offset: off, copies: h.nrCopies, copyPolicy: h.copyPolicy, flags: this.ioFlags() });
      return;
    }
    const creation = (async () => {
      await writeObject(this.link, {
        oid, data, offset: off, copies: h.nrCopies, copyPolicy: h.copyPolicy, flags: this.ioFlags(),
        create: true, cowOid: owner === 0 ? 0n : vidToDataOid(owner, idx),
      });
      const slot = Buffer.alloc(4);
      slot.writeUInt32LE(this.vid, 0);
      await writeObject(this.link, {
        oid: vidToVdiOid(this.vid), data: slot, offset: slotOffset(idx), copies: h.nrCopies, copyPolicy: h.copyPolicy,
        flags: this.ioFlags(),
      });
      this.index[idx] = this.vid;
    })();
    this.creating.set(idx, creation);
    try {
      await creation;
    } finally {
      this.creating.delete(idx);
    }
  }

  /** Wait until every write in flight is acknowledged (by all copies). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /**
   * Resize: growing changes the inode's size; shrinking is refused except to
   * 0, which is what opening with O_TRUNC asks and which is ignored (as the
   * original sheepfs does), so that `>` redirections and tools that open with
   * O_TRUNC work on a volume.
   */
  async resize(newSize: number): Promise<void> {
    if (this.readOnly) fail(E.EROFS);
    if (newSize === this.size || newSize === 0) return;
    if (newSize < this.size) fail(E.EOPNOTSUPP, 'shrinking a VDI is not supported');
    const max = this.objSize * SD_INODE_DATA_INDEX;
    if (newSize > max) fail(E.EFBIG, `a VDI with ${this.objSize}-byte objects holds at most ${max} bytes`);
    const field = Buffer.alloc(8);
    field.writeBigUInt64LE(BigInt(newSize), 0);
    const h = this.header;
    await writeObject(this.link, {
      oid: vidToVdiOid(this.vid), data: field, offset: INODE_OFF.vdiSize, copies: h.nrCopies, copyPolicy: h.copyPolicy,
    });
    this.size = newSize;
    this.header = { ...h, vdiSize: newSize };
    const grown = new Uint32Array(countDataObjs(this.header));
    grown.set(this.index.subarray(0, Math.min(this.index.length, grown.length)));
    this.index = grown;
  }
}
