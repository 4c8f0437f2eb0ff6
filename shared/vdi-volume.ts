/**
 * A VDI as a range of bytes: byte ranges split at object boundaries, each
 * piece one request to a gateway, all pieces of a call in flight at once
 * (cli.md §3.3, with the VDI's own object size instead of a fixed 4 MiB).
 * sheepfs's volume files and the sheep's NBD export are both made of this.
 *
 *  - read: an unallocated piece is zeros, without a request; otherwise
 *    READ_OBJ of the object the index slot names (the VDI's own, or an
 *    ancestor's for a clone or snapshot).
 *  - write: WRITE_OBJ to an object the VDI owns; otherwise CREATE_AND_WRITE_OBJ
 *    of its own object (copy-on-write from the ancestor's, if any), then the
 *    index slot is pointed at it. Changes of one slot (creation, discard) are
 *    serialised, and later writes to that object wait for them, so that two
 *    writes never both create it (a creation writes the whole object).
 *  - discard: the slots of whole objects are zeroed in the inode (the gateway
 *    then drops the references they held, as for QEMU's old driver and `dog
 *    vdi delete`); partial pieces are written with zeros only when asked.
 *  - A write is answered only after the gateway acknowledged it, and it
 *    acknowledges only when every copy has it: a flush has nothing left to
 *    wait for but writes still in flight.
 *
 * Failures throw SdError. The index is cached; refresh() reads it again
 * (another client may have allocated objects meanwhile), keeping the slots
 * this process set.
 *
 * A hyper volume (store_policy 1) keeps its index in a B-tree (shared/btree.ts)
 * instead of slots: a slot change is an entry set there, and a discarded
 * object this VDI owns is removed here (no reference counts for hyper volumes,
 * and only this VDI's tree names its own objects: a snapshot moves the working
 * VDI to a new vid). Once this process has changed the tree, refresh() keeps
 * it rather than reading another client's.
 *
 * A VDI written by name follows it through snapshots (FollowedVdi): a
 * snapshot turns the vid being written into the snapshot's and gives the
 * name a new working vid, so the gateway refuses the next data write with
 * READONLY; the volume is then replaced by one of the new vid and the write
 * tried again there, copy-on-write doing the rest (QEMU's old driver did the
 * same). The NBD export and sheepfs's volume files both use it.
 */
import { HyperTree, nodeUsedBytes, readNodeHeader, type BtreeIo } from './btree.js';
import { countDataObjs, decodeInodeHeader, INODE_OFF, slotOffset, type InodeHeader } from './inode.js';
import { readObject, removeObject, writeObject, type Gatewayed } from './object-io.js';
import { SD_INODE_HEADER_SIZE, SD_INODE_SIZE, SD_MAX_VDI_LEN, SD_MAX_VDI_TAG_LEN, vidToDataOid, vidToVdiOid } from './oid.js';
import { SD_FLAG } from './proto/flags.js';
import { SdHeader } from './proto/header.js';
import { SD_OP } from './proto/opcodes.js';
import { SD_RES } from './proto/results.js';
import { nameTagPayload } from './proto/vdi-name.js';
import { SdError } from './errors.js';

export interface IoFlags {
  /** send data I/O with the object cache flag (config/object_cache, sheep -w) */
  cache: boolean;
}

/** Index slots zeroed by one inode write (as `dog vdi delete` batches them). */
const DISCARD_BATCH_SLOTS = 128;

export class VdiVolume {
  protected index = new Uint32Array(0);
  /** the B-tree of a hyper volume (index stays empty then) */
  protected tree: HyperTree | undefined;
  private treeChanged = false;
  private readonly changing = new Map<number, Promise<void>>();
  private readonly inflight = new Set<Promise<unknown>>();
  header!: InodeHeader;
  size = 0;

  constructor(protected readonly link: Gatewayed, readonly vid: number, readonly readOnly: boolean, private readonly flags: IoFlags) {}

  get objSize(): number {
    return 2 ** this.header.blockSizeShift;
  }

  /** Read the header and the index again; slots allocated here meanwhile are kept. */
  async refresh(): Promise<void> {
    const head = await readObject(this.link, vidToVdiOid(this.vid), SD_INODE_HEADER_SIZE, 0);
    const h = decodeInodeHeader(head);
    if (h.name === '') throw new SdError(SD_RES.NO_VDI, `vdi ${this.vid.toString(16)} was deleted`);
    if (h.storePolicy === 1) {
      if (!this.treeChanged) this.tree = await this.loadTree(h, head);
      this.header = h;
      this.size = Number(head.readBigUInt64LE(INODE_OFF.vdiSize));
      return;
    }
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

  private async loadTree(h: InodeHeader, head: Buffer): Promise<HyperTree> {
    const oid = vidToVdiOid(this.vid);
    const top = await readObject(this.link, oid, 8, SD_INODE_HEADER_SIZE);
    const used = Math.min(nodeUsedBytes(readNodeHeader(top)), SD_INODE_SIZE - SD_INODE_HEADER_SIZE);
    const root = used > top.length ? await readObject(this.link, oid, used, SD_INODE_HEADER_SIZE) : top;
    const io: BtreeIo = {
      read: (o, length, offset) => readObject(this.link, o, length, offset),
      write: (o, data, offset, create) => writeObject(this.link, {
        oid: o, data, offset, create, copies: h.nrCopies, copyPolicy: h.copyPolicy, flags: this.ioFlags(),
      }),
    };
    return HyperTree.load(this.vid, head, root, io);
  }

  /** The vid whose object holds index idx (this VDI's or an ancestor's); 0 when unallocated. */
  protected ownerOf(idx: number): number {
    return this.tree ? this.tree.vidAt(idx) : this.index[idx] ?? 0;
  }

  protected ioFlags(): number {
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

  /** Is `idx` allocated (to this VDI or an ancestor)? */
  allocated(idx: number): boolean {
    return this.ownerOf(idx) !== 0;
  }

  async read(len: number, pos: number): Promise<Buffer> {
    if (pos >= this.size) return Buffer.alloc(0);
    const total = Math.min(len, this.size - pos);
    const os = this.objSize;
    const idx = Math.floor(pos / os);
    const owner = this.ownerOf(idx);
    if (owner !== 0 && pos + total <= (idx + 1) * os) {
      // within one allocated object (most reads): its data is the answer, no copy
      return this.track(readObject(this.link, vidToDataOid(owner, idx), total, pos - idx * os, this.ioFlags()));
    }
    const out = Buffer.alloc(total);
    const jobs: Promise<void>[] = [];
    for (const p of this.pieces(pos, total)) {
      const owner = this.ownerOf(p.idx);
      if (owner === 0) continue; // zeros
      jobs.push(readObject(this.link, vidToDataOid(owner, p.idx), p.len, p.off, this.ioFlags()).then((d) => { d.copy(out, p.at); }));
    }
    await this.track(Promise.all(jobs));
    return out;
  }

  async write(data: Buffer, pos: number): Promise<number> {
    if (this.readOnly) throw new SdError(SD_RES.READONLY);
    if (data.length === 0) return 0;
    if (pos >= this.size) throw new SdError(SD_RES.NO_SPACE, 'write beyond the end of the volume');
    const total = Math.min(data.length, this.size - pos);
    const jobs: Promise<void>[] = [];
    for (const p of this.pieces(pos, total)) jobs.push(this.writePiece(p.idx, p.off, data.subarray(p.at, p.at + p.len)));
    await this.track(Promise.all(jobs));
    return total;
  }

  /**
   * Run a change of slots `idxs` once no other change of them is under way,
   * with later I/O to them waiting for it. `change` is chosen after the wait,
   * and the check and the registration happen in one turn of the event loop.
   */
  private async changeSlots(idxs: number[], change: () => Promise<void> | undefined): Promise<void> {
    while (idxs.some((i) => this.changing.has(i))) {
      await Promise.allSettled(idxs.map((i) => this.changing.get(i)));
    }
    const p = change();
    if (!p) return;
    for (const i of idxs) this.changing.set(i, p);
    try {
      await p;
    } finally {
      for (const i of idxs) if (this.changing.get(i) === p) this.changing.delete(i);
    }
  }

  private async writePiece(idx: number, off: number, data: Buffer): Promise<void> {
    const h = this.header;
    const oid = vidToDataOid(this.vid, idx);
    let plain = false;
    await this.changeSlots([idx], () => {
      const owner = this.ownerOf(idx);
      if (owner === this.vid) {
        plain = true;
        return undefined;
      }
      return (async () => {
        await writeObject(this.link, {
          oid, data, offset: off, copies: h.nrCopies, copyPolicy: h.copyPolicy, flags: this.ioFlags(),
          create: true, cowOid: owner === 0 ? 0n : vidToDataOid(owner, idx),
        });
        await this.setSlots(idx, [this.vid]);
      })();
    });
    if (plain) await writeObject(this.link, { oid, data, offset: off, copies: h.nrCopies, copyPolicy: h.copyPolicy, flags: this.ioFlags() });
  }

  /** Point slots idx.. at `vids` in the inode (the gateway drops references to what they replace). */
  private async setSlots(idx: number, vids: number[]): Promise<void> {
    const h = this.header;
    if (this.tree) return this.setEntries(this.tree, idx, vids);
    const raw = Buffer.alloc(4 * vids.length);
    vids.forEach((v, i) => raw.writeUInt32LE(v, 4 * i));
    await writeObject(this.link, {
      oid: vidToVdiOid(this.vid), data: raw, offset: slotOffset(idx), copies: h.nrCopies, copyPolicy: h.copyPolicy,
      flags: this.ioFlags(),
    });
    vids.forEach((v, i) => { this.index[idx + i] = v; });
  }

  /** setSlots of a hyper volume: entries in the tree; objects of this VDI an entry no longer names are removed. */
  private async setEntries(tree: HyperTree, idx: number, vids: number[]): Promise<void> {
    this.treeChanged = true;
    const old = vids.map((_, i) => tree.vidAt(idx + i));
    await Promise.all(vids.map((v, i) => tree.set(idx + i, v)));
    await Promise.all(old.map(async (o, i) => {
      if (o !== this.vid || vids[i] === o) return;
      await removeObject(this.link, vidToDataOid(o, idx + i), this.header.nrCopies, this.header.copyPolicy).catch((e) => {
        if (!(e instanceof SdError) || e.code !== SD_RES.NO_OBJ) throw e;
      });
    }));
  }

  /**
   * Discard [pos, pos+len): whole objects lose their slot (they read as zeros
   * afterwards); partial pieces are written with zeros when `zeroPartial`
   * (a "write zeroes") and left as they are otherwise (a trim is advisory).
   */
  async discard(len: number, pos: number, zeroPartial: boolean): Promise<void> {
    if (this.readOnly) throw new SdError(SD_RES.READONLY);
    if (pos >= this.size) return;
    const total = Math.min(len, this.size - pos);
    const whole: number[] = [];
    const jobs: Promise<void>[] = [];
    for (const p of this.pieces(pos, total)) {
      const objEnd = Math.min(this.objSize, this.size - p.idx * this.objSize);
      if (p.off === 0 && p.len === objEnd) {
        if (this.allocated(p.idx)) whole.push(p.idx);
      } else if (zeroPartial && this.allocated(p.idx)) {
        jobs.push(this.writePiece(p.idx, p.off, Buffer.alloc(p.len)));
      }
    }
    for (let i = 0; i < whole.length;) {
      // a run of consecutive slots, at most one batch long
      let j = i + 1;
      while (j < whole.length && whole[j] === whole[j - 1]! + 1 && j - i < DISCARD_BATCH_SLOTS) j++;
      const run = whole.slice(i, j);
      jobs.push(this.changeSlots(run, () => this.setSlots(run[0]!, run.map(() => 0))));
      i = j;
    }
    await this.track(Promise.all(jobs));
  }

  /**
   * After a snapshot moved this VDI from `older` to this vid: objects that
   * `older` created here but whose index slots the snapshot's copy of the
   * index missed (set while it was being taken) are copied into this vid, so
   * that no acknowledged write is left in the snapshot only. Call it before
   * any write to this volume and after older's writes are in (flush).
   */
  async adoptMissed(older: VdiVolume): Promise<void> {
    const jobs: Promise<void>[] = [];
    const n = Math.min(older.index.length, this.index.length);
    for (let idx = 0; idx < n; idx++) {
      if (older.index[idx] !== older.vid || this.index[idx] === older.vid) continue;
      const objLen = Math.min(this.objSize, older.size - idx * older.objSize);
      jobs.push(readObject(this.link, vidToDataOid(older.vid, idx), objLen, 0, this.ioFlags())
        .then((data) => this.writePiece(idx, 0, data)));
    }
    await this.track(Promise.all(jobs));
  }

  /** Wait until every write in flight is acknowledged (by all copies). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}

/** GET_VDI_INFO: the vid of a VDI by name (and snapshot id or tag); SdError when there is none. */
export async function lookupVid(link: Gatewayed, name: string, snapid = 0, tag: string | null = null): Promise<number> {
  const h = SdHeader.request(SD_OP.GET_VDI_INFO, SD_FLAG.CMD_WRITE, SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN);
  h.vdiSnapid = snapid >>> 0;
  const r = await link.request(h, nameTagPayload(name, tag));
  if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, `no VDI ${name}`);
  return r.hdr.rspVdiId;
}

/**
 * The volume of a VDI known by name, replaced by the VDI's new working vid
 * when a snapshot was taken (see the top of this file). A read-only volume (a
 * snapshot) never moves.
 */
export class FollowedVdi<V extends VdiVolume = VdiVolume> {
  private reloading: Promise<boolean> | undefined;

  /** `make` builds an unread volume of a vid; `moved` is told each new vid. */
  constructor(
    private readonly link: Gatewayed, readonly name: string, public volume: V,
    private readonly make: (vid: number) => V, private readonly moved: (vid: number) => void = () => {},
  ) {}

  /**
   * Look the name up again; when it has a new working vid, switch to a volume
   * of it once the writes to the old one are in. True when it switched.
   * Concurrent callers share one reload.
   */
  reload(): Promise<boolean> {
    if (this.volume.readOnly) return Promise.resolve(false);
    this.reloading ??= (async () => {
      try {
        const vid = await lookupVid(this.link, this.name);
        if (vid === this.volume.vid) return false;
        const fresh = this.make(vid);
        await fresh.refresh();
        await this.volume.flush();
        await fresh.adoptMissed(this.volume);
        this.volume = fresh;
        this.moved(vid);
        return true;
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  /**
   * Run `op` on the volume; when a data write of it was refused as read-only
   * (a snapshot was taken meanwhile), run it again on the new working vid.
   * Writing again what was written already is harmless: the same bytes land.
   */
  async io<T>(op: (vol: V) => Promise<T>): Promise<T> {
    const vol = this.volume;
    try {
      return await op(vol);
    } catch (e) {
      if (!(e instanceof SdError && e.code === SD_RES.READONLY && !vol.readOnly)) throw e;
      // another call may have moved on already; otherwise look the name up
      if (this.volume === vol && !(await this.reload())) throw e;
      return op(this.volume);
    }
  }
}
