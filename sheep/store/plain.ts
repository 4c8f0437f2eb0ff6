import { constants, readSync, writeSync, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { assert, SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Logger } from '../log.js';
import type { MetaStore } from '../meta.js';
import { isDataObj, isAttrObj, isVdiObj, isVmstateObj } from '../../shared/oid.js';
import { AlignedBuffers, DIO_ALIGN } from './aligned.js';
import { objectName, parseObjectName, type ObjectRef, type ObjectStore, type SpaceInfo } from './store.js';

/** Open object files kept for reuse (pread/pwrite on a cached descriptor). */
const FD_CACHE_MAX = 256;
/**
 * Without O_DSYNC (-n, or a journal in front) a read or write of up to this many
 * bytes is a synchronous pread/pwrite on the event loop: the data is the page
 * cache's, so the call is a memory copy (a few µs for 4 KiB, ~30 µs for 128 KiB),
 * where a thread-pool trip costs two thread wake-ups (50-100 µs on a loaded
 * machine). Larger I/O, and every write with O_DSYNC (it waits for the disk),
 * goes to the thread pool. A read of a cold page blocks the loop for one disk
 * read; -n chose memory speed, and the objects in use are the ones in memory.
 */
export const SYNC_IO_MAX = 256 * 1024;
/** Reads of an object whose descriptor was closed under them (replaced, removed) before giving up. */
const READ_REOPEN_ATTEMPTS = 3;
/** How long a measured "used" figure stays good, to keep `dog node info` cheap. */
const USED_CACHE_MS = 2000;

export interface PlainStoreOptions {
  dir: string;
  nosync: boolean;
  /** object -> creation epoch index; absent when a wrapper (md) keeps it */
  meta?: MetaStore;
  log: Logger;
  /** -D: data objects through O_DIRECT when offset and length are 512-aligned */
  directIo?: boolean;
  /** remember what nosync writes touched, so that sync() can make it durable (journal) */
  trackDirty?: boolean;
  /** the tree layout (`format -b tree`): objects in subdirectories, see treeDir */
  tree?: boolean;
}

/** Subdirectories of the tree layout: `meta` and one per low byte of a vid. */
const TREE_DIRS = ['meta', ...Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))];

/**
 * The tree store's directory of an object, as the original's tree_store.c:
 * inodes, vmstate and attribute objects in `meta`, the others (data, ledger)
 * in `%02x`, the low byte of their vid.
 */
export function treeDir(name: string): string {
  const oid = parseObjectName(name)!.oid;
  if (isVdiObj(oid) || isVmstateObj(oid) || isAttrObj(oid)) return 'meta';
  return Number((oid >> 32n) & 0xffn).toString(16).padStart(2, '0');
}

function noObj(): SdError {
  return new SdError(SD_RES.NO_OBJ);
}

/**
 * The plain store: one file per object in one directory, named as the original
 * names them. Files are sparse: a partial create leaves holes that read as zero.
 */
export class PlainStore implements ObjectStore {
  readonly kind = 'plain';
  private readonly live = new Set<string>();
  /** stale copies: object name -> epoch tags */
  private readonly stale = new Map<string, number[]>();
  private readonly fds = new Map<string, fsp.FileHandle>();
  private readonly openFlags: number;
  private usedCache: { at: number; used: bigint } | null = null;
  /** -D: descriptors opened O_DIRECT, and the aligned memory they need */
  private readonly dfds = new Map<string, fsp.FileHandle>();
  private aligned: AlignedBuffers | undefined;
  /**
   * objects written since their last successful datasync (nosync + trackDirty
   * only), with the sync() generation of their last write: a write that comes
   * in while a sync runs keeps its object dirty
   */
  private readonly dirty = new Map<string, number>();
  /** directories whose entries changed since their last successful sync, likewise */
  private readonly dirsDirty = new Map<string, number>();
  private dirtyGen = 0;

  constructor(private readonly o: PlainStoreOptions) {
    this.openFlags = constants.O_RDWR | (o.nosync ? 0 : constants.O_DSYNC);
  }

  private get tracking(): boolean {
    return this.o.nosync && this.o.trackDirty === true;
  }

  /** Use O_DIRECT for this I/O? Data objects with 512-aligned offset and length only. */
  private direct(ref: ObjectRef, offset: number, length: number): boolean {
    return this.aligned !== undefined && isDataObj(ref.oid) && length > 0
      && offset % DIO_ALIGN === 0 && length % DIO_ALIGN === 0;
  }

  get dir(): string {
    return this.o.dir;
  }

  get staleDir(): string {
    return join(this.o.dir, '.stale');
  }

  get tree(): boolean {
    return this.o.tree === true;
  }

  /** The directory an object's file lives in. */
  private dirOf(name: string): string {
    return this.o.tree ? join(this.o.dir, treeDir(name)) : this.o.dir;
  }

  /** An object's file (with `suffix`, a file beside it). */
  private path(name: string, suffix = ''): string {
    return join(this.dirOf(name), name + suffix);
  }

  /**
   * Switch between the plain and the tree layout (cluster format, or a new
   * member learning the cluster's store driver); objects already there move.
   */
  async setLayout(tree: boolean): Promise<void> {
    if (tree) for (const d of TREE_DIRS) await fsp.mkdir(join(this.o.dir, d), { recursive: true });
    if (this.tree === tree) return;
    const names = [...this.live];
    for (const name of names) this.dropFd(name);
    const from = names.map((name) => this.path(name));
    this.o.tree = tree;
    for (let i = 0; i < names.length; i++) await fsp.rename(from[i]!, this.path(names[i]!));
    if (!this.o.nosync) for (const dir of new Set(names.map((n) => this.dirOf(n)))) await syncDir(dir);
  }

  async init(epoch: number): Promise<void> {
    await fsp.mkdir(this.o.dir, { recursive: true });
    await fsp.mkdir(this.staleDir, { recursive: true });
    const dirs = this.o.tree ? TREE_DIRS.map((d) => join(this.o.dir, d)) : [this.o.dir];
    for (const dir of dirs) {
      await fsp.mkdir(dir, { recursive: true });
      for (const name of await fsp.readdir(dir)) {
        if (name.endsWith('.tmp')) {
          await fsp.rm(join(dir, name), { force: true });
          continue;
        }
        if (parseObjectName(name) && this.dirOf(name) === dir) this.live.add(name);
      }
    }
    if (this.o.directIo) {
      this.aligned = await AlignedBuffers.open(this.o.dir, this.o.log);
    }
    for (const name of await fsp.readdir(this.staleDir)) {
      const m = /^(.+)\.(\d+)$/.exec(name);
      if (m && parseObjectName(m[1]!)) this.addStale(m[1]!, Number(m[2]));
      else if (name.endsWith('.tmp')) await fsp.rm(join(this.staleDir, name), { force: true });
    }
    await this.o.meta?.reconcileObjs(this.live, epoch);
    this.o.log.info('store', `${this.o.tree ? 'tree' : 'plain'} store at ${this.o.dir}: ${this.live.size} objects${this.aligned ? ', direct I/O' : ''}`);
  }

  exists(ref: ObjectRef): boolean {
    return this.live.has(objectName(ref.oid, ref.ec));
  }

  async recheck(ref: ObjectRef): Promise<boolean> {
    const name = objectName(ref.oid, ref.ec);
    if (!this.live.has(name)) return false;
    try {
      await fsp.access(this.path(name));
      return true;
    } catch {
      this.o.log.warn('store', `object ${name} vanished from ${this.o.dir}`);
      this.dropFd(name);
      this.live.delete(name);
      this.usedCache = null;
      await this.o.meta?.delObj(name);
      return false;
    }
  }

  private async fd(name: string): Promise<fsp.FileHandle> {
    const cached = this.fds.get(name);
    if (cached) {
      // refresh LRU position
      this.fds.delete(name);
      this.fds.set(name, cached);
      return cached;
    }
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.path(name), this.openFlags);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.live.delete(name);
        throw noObj();
      }
      throw e;
    }
    const raced = this.fds.get(name);
    if (raced) {
      await fh.close();
      return raced;
    }
    this.fds.set(name, fh);
    if (this.fds.size > FD_CACHE_MAX) {
      const [oldest, oldFh] = this.fds.entries().next().value as [string, fsp.FileHandle];
      this.fds.delete(oldest);
      void oldFh.close().catch(() => {});
    }
    return fh;
  }

  private dropFd(name: string): void {
    for (const map of [this.fds, this.dfds]) {
      const fh = map.get(name);
      if (!fh) continue;
      map.delete(name);
      void fh.close().catch(() => {});
    }
  }

  /** The O_DIRECT descriptor of an object (few are kept: direct I/O is for big data objects). */
  private async dfd(name: string): Promise<fsp.FileHandle> {
    const cached = this.dfds.get(name);
    if (cached) return cached;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.path(name), this.openFlags | constants.O_DIRECT);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.live.delete(name);
        throw noObj();
      }
      throw e;
    }
    const raced = this.dfds.get(name);
    if (raced) {
      await fh.close();
      return raced;
    }
    this.dfds.set(name, fh);
    if (this.dfds.size > FD_CACHE_MAX / 4) {
      const [oldest, oldFh] = this.dfds.entries().next().value as [string, fsp.FileHandle];
      this.dfds.delete(oldest);
      void oldFh.close().catch(() => {});
    }
    return fh;
  }

  async read(ref: ObjectRef, offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const name = objectName(ref.oid, ref.ec);
    for (let attempt = 1; ; attempt++) {
      if (!this.live.has(name)) throw noObj();
      const direct = this.direct(ref, offset, length);
      const fh = direct ? await this.dfd(name) : await this.fd(name);
      try {
        return direct ? await this.aligned!.read(fh, offset, length) : await this.readAt(fh, offset, length, into);
      } catch (e) {
        // the object was replaced or removed while this read waited for its
        // descriptor, and dropFd closed it (readSync then throws a RangeError
        // for fd -1, a FileHandle's read EBADF): read it again by name, which
        // finds the new file or none. Neither a bug nor a failing disk.
        if (fh.fd !== -1 || attempt >= READ_REOPEN_ATTEMPTS) throw e;
      }
    }
  }

  private async readAt(fh: fsp.FileHandle, offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const buf = into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let done = 0;
    if (this.o.nosync && length <= SYNC_IO_MAX) {
      while (done < length) {
        const n = readSync(fh.fd, buf, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
    } else {
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    }
    if (done < length) buf.fill(0, done);
    return buf;
  }

  async write(ref: ObjectRef, offset: number, data: Buffer): Promise<void> {
    const name = objectName(ref.oid, ref.ec);
    if (!this.live.has(name)) throw noObj();
    if (this.direct(ref, offset, data.length)) {
      await this.aligned!.write(await this.dfd(name), data, offset);
    } else {
      const fh = await this.fd(name);
      // (the kernel keeps buffered and O_DIRECT I/O of one file coherent)
      if (this.o.nosync && data.length <= SYNC_IO_MAX) writeAllSync(fh, data, offset);
      else await writeAll(fh, data, offset);
    }
    if (this.tracking) this.markDirty(name);
  }

  async create(ref: ObjectRef, offset: number, data: Buffer, fullSize: number, epoch: number): Promise<void> {
    assert(offset + data.length <= fullSize, `create within the object (${offset}+${data.length} <= ${fullSize})`);
    const name = objectName(ref.oid, ref.ec);
    const tmp = this.path(name, '.tmp');
    const direct = this.direct(ref, offset, data.length);
    const fh = await fsp.open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | (direct ? constants.O_DIRECT : 0), 0o640);
    try {
      // a write that reaches the end sets the size itself; otherwise the rest is a hole
      if (offset + data.length < fullSize || direct) await fh.truncate(fullSize).catch((e) => { throw noSpace(e); });
      if (direct) await this.aligned!.write(fh, data, offset);
      else if (data.length > 0) await writeAll(fh, data, offset);
      if (!this.o.nosync) await fh.sync();
    } catch (e) {
      await fh.close();
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    this.dropFd(name);
    await fsp.rename(tmp, this.path(name));
    if (!this.o.nosync) await syncDir(this.dirOf(name));
    if (this.tracking) {
      this.markDirDirty(this.dirOf(name));
      this.markDirty(name);
    }
    const fresh = !this.live.has(name);
    this.live.add(name);
    this.usedCache = null;
    if (fresh) await this.o.meta?.putObj(name, epoch);
  }

  async remove(ref: ObjectRef): Promise<void> {
    const name = objectName(ref.oid, ref.ec);
    this.dropFd(name);
    try {
      await fsp.unlink(this.path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.live.delete(name);
        throw noObj();
      }
      throw e;
    }
    this.live.delete(name);
    this.dirty.delete(name);
    if (this.tracking) this.markDirDirty(this.dirOf(name));
    this.usedCache = null;
    await this.o.meta?.delObj(name);
  }

  /** Length of a live object's file (md moves whole files between disks). */
  async fileSize(ref: ObjectRef): Promise<number> {
    const name = objectName(ref.oid, ref.ec);
    if (!this.live.has(name)) throw noObj();
    return (await fsp.stat(this.path(name))).size;
  }

  /** Is there a stale copy of the object tagged `epoch`? */
  hasStale(ref: ObjectRef, epoch: number): boolean {
    return this.stale.get(objectName(ref.oid, ref.ec))?.includes(epoch) ?? false;
  }

  names(): IterableIterator<string> {
    return this.live.values();
  }

  oids(): bigint[] {
    const set = new Set<bigint>();
    for (const name of this.live) set.add(parseObjectName(name)!.oid);
    return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async space(): Promise<SpaceInfo> {
    const st = await fsp.statfs(this.o.dir);
    const free = BigInt(st.bavail) * BigInt(st.bsize);
    const used = await this.usedBytes();
    return { size: free + used, free, used };
  }

  private async usedBytes(): Promise<bigint> {
    if (this.usedCache && Date.now() - this.usedCache.at < USED_CACHE_MS) return this.usedCache.used;
    let used = 0n;
    const names = [...this.live];
    for (let i = 0; i < names.length; i += 64) {
      const stats = await Promise.all(
        names.slice(i, i + 64).map((n) => fsp.stat(this.path(n)).catch(() => null as Stats | null)),
      );
      for (const s of stats) if (s) used += BigInt(s.blocks) * 512n;
    }
    this.usedCache = { at: Date.now(), used };
    return used;
  }

  async purge(): Promise<void> {
    for (const name of [...this.fds.keys()]) this.dropFd(name);
    // the directory itself stays (md knows a disk by its inode), and so do its
    // dot files (md's recorded capacity, the direct I/O probe)
    await fsp.mkdir(this.o.dir, { recursive: true });
    for (const name of await fsp.readdir(this.o.dir)) {
      if (name.startsWith('.') && name !== '.stale') continue;
      await fsp.rm(join(this.o.dir, name), { recursive: true, force: true });
    }
    await fsp.rm(this.staleDir, { recursive: true, force: true });
    await fsp.mkdir(this.staleDir, { recursive: true });
    if (this.o.tree) for (const d of TREE_DIRS) await fsp.mkdir(join(this.o.dir, d), { recursive: true });
    this.live.clear();
    this.stale.clear();
    this.dirty.clear();
    this.usedCache = null;
    await this.o.meta?.clearObjs();
  }

  private addStale(name: string, epoch: number): void {
    const tags = this.stale.get(name) ?? [];
    if (!tags.includes(epoch)) tags.push(epoch);
    tags.sort((a, b) => a - b);
    this.stale.set(name, tags);
  }

  async moveToStale(ref: ObjectRef, epoch: number): Promise<void> {
    const name = objectName(ref.oid, ref.ec);
    if (!this.live.has(name)) throw noObj();
    this.dropFd(name);
    const to = join(this.staleDir, `${name}.${epoch}`);
    // the stale name first, then the live one goes: a recovery read finds the
    // copy under one name or the other at every moment, never neither (a
    // "no such copy" answer would tell the reader no write reached it)
    await fsp.rm(to, { force: true });
    const linked = await fsp.link(this.path(name), to).then(() => true, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw noObj();
      return false; // no hard links here: a rename, with its short gap
    });
    if (!linked) await fsp.rename(this.path(name), to);
    this.live.delete(name);
    this.dirty.delete(name);
    this.addStale(name, epoch);
    this.usedCache = null;
    if (linked) await fsp.unlink(this.path(name)).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
    if (!this.o.nosync) await syncDir(this.staleDir);
    if (this.tracking) {
      this.markDirDirty(this.dirOf(name));
      this.markDirDirty(this.staleDir);
    }
    await this.o.meta?.delObj(name);
  }

  staleEpoch(ref: ObjectRef): number | undefined {
    return this.stale.get(objectName(ref.oid, ref.ec))?.at(-1);
  }

  async readStale(ref: ObjectRef, epoch: number, offset: number, length: number): Promise<Buffer> {
    const name = objectName(ref.oid, ref.ec);
    if (!this.stale.get(name)?.includes(epoch)) throw noObj();
    const fh = await fsp.open(join(this.staleDir, `${name}.${epoch}`), constants.O_RDONLY);
    try {
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  staleOids(): bigint[] {
    const set = new Set<bigint>();
    for (const name of this.stale.keys()) set.add(parseObjectName(name)!.oid);
    return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async purgeStale(): Promise<void> {
    this.stale.clear();
    await fsp.rm(this.staleDir, { recursive: true, force: true });
    await fsp.mkdir(this.staleDir, { recursive: true });
    this.usedCache = null;
  }

  private markDirty(name: string): void {
    this.dirty.set(name, this.dirtyGen);
  }

  private markDirDirty(dir: string): void {
    this.dirsDirty.set(dir, this.dirtyGen);
  }

  /**
   * Make every tracked write durable. A name leaves the dirty set only after its
   * datasync succeeded (and only if no write came in meanwhile); any failure
   * fails the sync, so the journal keeps the records it was protecting.
   */
  async sync(): Promise<void> {
    if (!this.tracking) return;
    const names = [...this.dirty.keys()];
    const gen = this.dirtyGen++;
    for (let i = 0; i < names.length; i += 32) {
      await Promise.all(names.slice(i, i + 32).map(async (name) => {
        if (!this.live.has(name)) {
          this.dirty.delete(name);
          return;
        }
        let fh: fsp.FileHandle;
        try {
          fh = await this.fd(name);
        } catch (e) {
          // removed meanwhile: nothing left to make durable (the directory sync covers it)
          if (e instanceof SdError && e.code === SD_RES.NO_OBJ) {
            this.dirty.delete(name);
            return;
          }
          throw e;
        }
        await fh.datasync();
        if ((this.dirty.get(name) ?? Infinity) <= gen) this.dirty.delete(name);
      }));
    }
    for (const dir of [...this.dirsDirty.keys()]) {
      await syncDir(dir);
      if ((this.dirsDirty.get(dir) ?? Infinity) <= gen) this.dirsDirty.delete(dir);
    }
  }

  async close(): Promise<void> {
    const all = [...this.fds.values(), ...this.dfds.values()];
    this.fds.clear();
    this.dfds.clear();
    await this.aligned?.close();
    await Promise.all(all.map((fh) => fh.close().catch(() => {})));
  }
}

async function writeAll(fh: fsp.FileHandle, data: Buffer, offset: number): Promise<void> {
  let done = 0;
  try {
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  } catch (e) {
    throw noSpace(e);
  }
}

function writeAllSync(fh: fsp.FileHandle, data: Buffer, offset: number): void {
  let done = 0;
  try {
    while (done < data.length) done += writeSync(fh.fd, data, done, data.length - done, offset + done);
  } catch (e) {
    throw noSpace(e);
  }
}

/** A full file system is an outcome (NO_SPACE for the client), not a bug. */
function noSpace(e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? new SdError(SD_RES.NO_SPACE, (e as Error).message) : e;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
