import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { resultOf, SdError } from '../../shared/errors.js';
import { isDataObj, oidToVid } from '../../shared/oid.js';
import { cacheInfoRowsFitting, encodeCacheInfo } from '../../shared/proto/cache-info.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { ObjectIo } from '../gateway.js';
import type { Logger } from '../log.js';
import { KeyedMutex } from './mutex.js';
import { PlainStore } from './plain.js';
import { parseObjectName } from './store.js';

/** Dirty state is kept per 1/64 of an object, as the original's bitmap. */
const DIRTY_BLOCKS = 64;
/** Dirty objects written back at once by a flush. */
const CACHE_FLUSH_CONCURRENCY = 8;
/**
 * Written at a clean stop whose write-back failed: the dirty objects the cache
 * directory still holds (they are acknowledged writes), read back at start.
 */
export const CACHE_DIRTY_MANIFEST = '.dirty.json';
/** After a start that found dirty objects: pause between write-back attempts, and how long to keep trying. */
const CACHE_PUSH_PAUSE_MS = 1_000;
const CACHE_PUSH_TRY_MS = 10 * 60_000;

/** What the cache needs of the cluster: the gateway's object I/O. */
export interface CacheBackend {
  objSize(oid: bigint): number;
  read(io: ObjectIo, length: number): Promise<Buffer>;
  write(io: ObjectIo, data: Buffer): Promise<void>;
  createAndWrite(io: ObjectIo, data: Buffer, cowOid?: bigint): Promise<void>;
  remove(io: ObjectIo): Promise<void>;
}

interface Entry {
  oid: bigint;
  size: number;
  copies: number;
  copyPolicy: number;
  /** the object is not in the cluster yet: write-back creates it whole */
  created: boolean;
  /** which 1/64 blocks differ from the cluster's copy */
  dirty: Uint8Array;
}

export interface CacheInfoRow {
  vid: number;
  objects: number;
  bytes: number;
  dirtyBytes: number;
}

/**
 * The object cache (-w size=,dir=[,directio]): a write-back cache of whole
 * data objects on this sheep for client I/O carrying the cache flag. Writes are
 * acknowledged once in the cache; FLUSH_VDI (dog vdi cache flush, QEMU's flush)
 * writes every dirty block back through the gateway to all copies before it
 * answers. The cache holds at most `size` bytes; the least recently used
 * object goes first, written back first when dirty. While an object is cached
 * here, every client request on this sheep for it goes through the cache.
 * A sheep that dies loses what it had not written back (as any write-back
 * cache): the cache directory is emptied at start. A clean stop whose
 * write-back fails keeps the dirty objects instead (made durable, listed in
 * CACHE_DIRTY_MANIFEST); the next start serves them from the cache and writes
 * them back (pushRecovered).
 */
export class ObjectCache {
  /** oid -> entry, least recently used first */
  private readonly entries = new Map<bigint, Entry>();
  private readonly lock = new KeyedMutex();
  private readonly busy = new Map<bigint, number>();
  private used = 0;
  private readonly files: PlainStore;
  /** CACHE_DIRTY_MANIFEST lists objects still dirty */
  private manifestKept = false;

  constructor(
    private readonly backend: CacheBackend,
    private readonly o: {
      dir: string; size: number; directIo: boolean; log: Logger;
      /** is vid a snapshot now (its dirty objects are written back by every flush)? */
      snapshot?: (vid: number) => boolean;
    },
  ) {
    this.files = new PlainStore({ dir: o.dir, nosync: true, trackDirty: true, log: o.log, directIo: o.directIo });
  }

  get capacity(): number {
    return this.o.size;
  }

  get usedBytes(): number {
    return this.used;
  }

  get directIo(): boolean {
    return this.o.directIo;
  }

  private get manifestPath(): string {
    return join(this.o.dir, CACHE_DIRTY_MANIFEST);
  }

  async init(): Promise<void> {
    const kept = await readManifest(this.manifestPath);
    if (!kept) {
      // empty it, but keep the directory: it may be a mount point (a cache disk)
      const names = await fsp.readdir(this.o.dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return [] as string[];
        throw e;
      });
      for (const name of names) await fsp.rm(join(this.o.dir, name), { recursive: true, force: true });
    }
    await this.files.init(0);
    for (const k of kept ?? []) {
      const oid = BigInt(`0x${k.oid}`);
      if (!this.files.exists(this.ref(oid))) continue;
      const dirty = Uint8Array.from(Buffer.from(k.dirty, 'hex'));
      this.entries.set(oid, { oid, size: k.size, copies: k.copies, copyPolicy: k.copyPolicy, created: k.created, dirty });
      this.used += k.size;
    }
    // clean copies are only a cache: start without them
    for (const name of [...this.files.names()]) {
      const ref = parseObjectName(name);
      if (ref && !this.entries.has(ref.oid)) await this.files.remove(ref);
    }
    this.manifestKept = kept !== undefined;
    if (kept) this.o.log.warn('cache', `${this.entries.size} dirty objects kept from the last stop: writing them back`);
    this.o.log.info('cache', `object cache in ${this.o.dir}: ${this.o.size} bytes${this.o.directIo ? ', direct I/O' : ''}`);
  }

  /** Dirty objects kept from the last stop: write them back (until it works or the sheep stops). */
  async pushRecovered(stopping: () => boolean): Promise<void> {
    if (!this.manifestKept) return;
    const deadline = Date.now() + CACHE_PUSH_TRY_MS;
    while (!stopping()) {
      try {
        await this.flush();
        return;
      } catch (e) {
        if (Date.now() > deadline) {
          this.o.log.err('cache', `the dirty objects kept from the last stop cannot be written back: ${(e as Error).message}`);
          return;
        }
        await new Promise((r) => setTimeout(r, CACHE_PUSH_PAUSE_MS));
      }
    }
  }

  /** Does this client request go through the cache? */
  handles(oid: bigint, flagged: boolean): boolean {
    return isDataObj(oid) && (flagged || this.entries.has(oid));
  }

  private ref(oid: bigint) {
    return { oid, ec: undefined };
  }

  private touch(e: Entry): void {
    this.entries.delete(e.oid);
    this.entries.set(e.oid, e);
  }

  private async locked<T>(oid: bigint, fn: () => Promise<T>): Promise<T> {
    this.busy.set(oid, (this.busy.get(oid) ?? 0) + 1);
    try {
      return await this.lock.run(oid.toString(16), fn);
    } finally {
      const n = (this.busy.get(oid) ?? 1) - 1;
      if (n === 0) this.busy.delete(oid);
      else this.busy.set(oid, n);
    }
  }

  /** Room for `bytes` more: evict least recently used objects not in use, written back first. */
  private async makeRoom(bytes: number): Promise<void> {
    for (const e of [...this.entries.values()]) {
      if (this.used + bytes <= this.o.size) return;
      if (this.busy.has(e.oid)) continue;
      await this.locked(e.oid, async () => {
        if (this.entries.get(e.oid) !== e) return;
        await this.writeBack(e);
        await this.drop(e);
      });
    }
  }

  private async drop(e: Entry): Promise<void> {
    this.entries.delete(e.oid);
    this.used -= e.size;
    await this.files.remove(this.ref(e.oid)).catch(() => {});
  }

  /** Bring an object in: its content from the cluster (or the base for copy-on-write, or zeros). */
  private async load(io: ObjectIo, create: boolean, cowOid: bigint | undefined): Promise<Entry | undefined> {
    const size = this.backend.objSize(io.oid);
    if (size > this.o.size) return undefined;
    let content: Buffer;
    if (!create) content = await this.backend.read({ ...io, offset: 0, flags: 0 }, size);
    else if (cowOid !== undefined) content = await this.baseContent(io, cowOid, size);
    else content = Buffer.alloc(0);
    await this.makeRoom(size);
    // every cached object is in use (concurrent writes to as many objects as
    // the cache holds, or more): this one goes to the cluster, not past the bound
    if (this.used + size > this.o.size) return undefined;
    // reserved before the file is made: loads running meanwhile see it
    this.used += size;
    try {
      await this.files.create(this.ref(io.oid), 0, content, size, 0);
    } catch (e) {
      this.used -= size;
      throw e;
    }
    const e: Entry = {
      oid: io.oid, size, copies: io.copies, copyPolicy: io.copyPolicy, created: create,
      dirty: new Uint8Array(DIRTY_BLOCKS).fill(create ? 1 : 0),
    };
    this.entries.set(io.oid, e);
    return e;
  }

  /**
   * The base of a copy-on-write: the cached copy when there is one (it may
   * hold writes not written back yet, e.g. of a VDI just snapshotted).
   */
  private async baseContent(io: ObjectIo, cowOid: bigint, size: number): Promise<Buffer> {
    if (this.entries.has(cowOid)) {
      const cached = await this.locked(cowOid, async () => {
        if (!this.entries.has(cowOid)) return undefined;
        return this.files.read(this.ref(cowOid), 0, size);
      });
      if (cached) return cached;
    }
    return this.backend.read({ ...io, oid: cowOid, offset: 0, flags: 0 }, size);
  }

  private markDirty(e: Entry, offset: number, length: number): void {
    const block = e.size / DIRTY_BLOCKS;
    const first = Math.floor(offset / block);
    const last = Math.min(DIRTY_BLOCKS - 1, Math.floor((offset + length - 1) / block));
    for (let b = first; b <= last; b++) e.dirty[b] = 1;
  }

  /** CREATE_AND_WRITE_OBJ / WRITE_OBJ through the cache. */
  async write(io: ObjectIo, data: Buffer, create: boolean, cowOid?: bigint): Promise<void> {
    await this.locked(io.oid, async () => {
      let e = this.entries.get(io.oid);
      if (e && create) {
        // a create replaces the object: start over from zeros (or its base)
        await this.drop(e);
        e = undefined;
      }
      e ??= await this.load(io, create, cowOid);
      if (!e) {
        // bigger than the whole cache, or no room now: straight to the cluster
        if (create) await this.backend.createAndWrite({ ...io, flags: 0 }, data, cowOid);
        else await this.backend.write({ ...io, flags: 0 }, data);
        return;
      }
      if (data.length > 0) {
        await this.files.write(this.ref(io.oid), io.offset, data);
        this.markDirty(e, io.offset, data.length);
      }
      this.touch(e);
    });
  }

  /** Reads served from the cache, and reads that had to fetch the object (metrics). */
  hits = 0;
  misses = 0;

  /** READ_OBJ through the cache: a miss brings the whole object in. */
  async read(io: ObjectIo, length: number): Promise<Buffer> {
    return this.locked(io.oid, async () => {
      const hit = this.entries.get(io.oid);
      if (hit) this.hits++;
      else this.misses++;
      const e = hit ?? (await this.load(io, false, undefined));
      if (!e) return this.backend.read({ ...io, flags: 0 }, length);
      this.touch(e);
      return this.files.read(this.ref(io.oid), io.offset, length);
    });
  }

  /** REMOVE_OBJ: the cached copy goes, then the cluster's. */
  async remove(io: ObjectIo): Promise<void> {
    await this.locked(io.oid, async () => {
      const e = this.entries.get(io.oid);
      if (e) await this.drop(e);
      try {
        await this.backend.remove({ ...io, flags: 0 });
      } catch (err) {
        // an object created in the cache only was never in the cluster
        if (!(e?.created && resultOf(err) === SD_RES.NO_OBJ)) throw err;
      }
    });
  }

  /** Write an entry's dirty blocks to every copy (the caller holds its lock). */
  private async writeBack(e: Entry): Promise<void> {
    if (!e.dirty.includes(1)) return;
    // acknowledged before any snapshot of the VDI was taken (later writes are refused): it lands
    const io: ObjectIo = { oid: e.oid, offset: 0, copies: e.copies, copyPolicy: e.copyPolicy, flags: 0, writeBack: true };
    if (e.created) {
      const all = await this.files.read(this.ref(e.oid), 0, e.size);
      await this.backend.createAndWrite(io, all);
      e.created = false;
      e.dirty.fill(0);
      return;
    }
    const block = e.size / DIRTY_BLOCKS;
    for (let b = 0; b < DIRTY_BLOCKS;) {
      if (!e.dirty[b]) {
        b++;
        continue;
      }
      let end = b;
      while (end < DIRTY_BLOCKS && e.dirty[end]) end++;
      const data = await this.files.read(this.ref(e.oid), b * block, (end - b) * block);
      await this.backend.write({ ...io, offset: b * block }, data);
      e.dirty.fill(0, b, end);
      b = end;
    }
  }

  /** FLUSH_VDI: every dirty object of the VDI (all VDIs: undefined) is on all its copies when this resolves. */
  async flush(vid?: number): Promise<number> {
    const n = await this.writeBackAll(vid);
    // nothing dirty is left anywhere: the list kept from a failed stop is history
    if (this.manifestKept && ![...this.entries.values()].some((e) => e.dirty.includes(1))) {
      await fsp.rm(this.manifestPath, { force: true });
      this.manifestKept = false;
    }
    return n;
  }

  private async writeBackAll(vid?: number): Promise<number> {
    // a snapshot taken since the writes was the VDI's vid: its dirty objects are
    // part of what the VDI's flush promises (the VDI reads them through its index)
    const mine = (e: Entry): boolean => vid === undefined || oidToVid(e.oid) === vid || this.o.snapshot?.(oidToVid(e.oid)) === true;
    const todo = [...this.entries.values()].filter((e) => mine(e) && e.dirty.includes(1));
    let flushed = 0;
    for (let i = 0; i < todo.length; i += CACHE_FLUSH_CONCURRENCY) {
      await Promise.all(todo.slice(i, i + CACHE_FLUSH_CONCURRENCY).map((e) => this.locked(e.oid, async () => {
        if (this.entries.get(e.oid) !== e) return;
        await this.writeBack(e);
        flushed++;
      })));
    }
    return flushed;
  }

  /** DELETE_CACHE: the VDI's objects leave the cache (written back first). */
  async delete(vid: number): Promise<void> {
    await this.flush(vid);
    for (const e of [...this.entries.values()]) {
      if (oidToVid(e.oid) !== vid) continue;
      await this.locked(e.oid, async () => {
        if (this.entries.get(e.oid) !== e) return;
        await this.writeBack(e);
        await this.drop(e);
      });
    }
  }

  info(): CacheInfoRow[] {
    const rows = new Map<number, CacheInfoRow>();
    for (const e of this.entries.values()) {
      const vid = oidToVid(e.oid);
      const r = rows.get(vid) ?? { vid, objects: 0, bytes: 0, dirtyBytes: 0 };
      r.objects++;
      r.bytes += e.size;
      r.dirtyBytes += (e.dirty.reduce((a, b) => a + b, 0) * e.size) / DIRTY_BLOCKS;
      rows.set(vid, r);
    }
    return [...rows.values()].sort((a, b) => a.vid - b.vid);
  }

  /**
   * Clean stop: write everything back. When that fails, the dirty objects stay
   * in the cache directory, made durable and listed, for the next start.
   */
  async close(): Promise<void> {
    try {
      await this.flush();
    } catch (e) {
      const dirty = [...this.entries.values()].filter((x) => x.dirty.includes(1));
      this.o.log.err('cache', `writing back the cache at shutdown: ${(e as Error).message}; keeping ${dirty.length} dirty objects in ${this.o.dir} for the next start`);
      await this.files.sync();
      await writeManifest(this.manifestPath, dirty.map((x) => ({
        oid: x.oid.toString(16), size: x.size, copies: x.copies, copyPolicy: x.copyPolicy, created: x.created,
        dirty: Buffer.from(x.dirty).toString('hex'),
      })));
      this.manifestKept = true;
    }
    await this.files.close();
  }
}

interface KeptEntry {
  oid: string;
  size: number;
  copies: number;
  copyPolicy: number;
  created: boolean;
  dirty: string;
}

async function readManifest(path: string): Promise<KeptEntry[] | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path, 'utf8')) as KeptEntry[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Write the list durably: a temporary file synced, renamed over, the directory synced. */
async function writeManifest(path: string, kept: KeptEntry[]): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    await fh.writeFile(JSON.stringify(kept));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
  const dir = await fsp.open(join(path, '..'), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** GET_CACHE_INFO reply of a buffer of `room` bytes (shared/proto/cache-info.ts); BUFFER_SMALL when the rows do not fit. */
export function cacheInfoReply(c: ObjectCache, room: number): Buffer {
  const rows = c.info();
  if (rows.length > cacheInfoRowsFitting(room)) throw new SdError(SD_RES.BUFFER_SMALL);
  return encodeCacheInfo({
    size: BigInt(c.capacity), used: BigInt(c.usedBytes), directIo: c.directIo,
    rows: rows.map((r) => ({ vid: r.vid, objects: r.objects, bytes: BigInt(r.bytes), dirty: BigInt(r.dirtyBytes) })),
  });
}
