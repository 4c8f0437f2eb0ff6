import { statSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { SdError } from '../../shared/errors.js';
import { sdHash, sdHashNext, sdHashOid } from '../../shared/hash.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Logger } from '../log.js';
import type { MetaStore } from '../meta.js';
import { KeyedMutex } from './mutex.js';
import { PlainStore } from './plain.js';
import { objectName, parseObjectName, type DiskInfo, type ObjectRef, type ObjectStore, type SpaceInfo } from './store.js';

/**
 * Capacity one virtual disk stands for on the md ring: 1 GiB as in Sheepdog
 * 1.0.1 (later trees use 16 MiB), so objects go to the same disks as there.
 */
export const MD_VDISK_SIZE = 1024n * 1024n * 1024n;
/** Most disks one sheep takes (sd_md_info has 64 slots). */
export const MD_MAX_DISKS = 64;
/** How often every disk directory is checked for having been removed behind our back. */
const MD_HEALTH_CHECK_MS = 1000;
/** Free space recorded at first use (the original keeps it in xattr `user.md.size`). */
const SIZE_FILE = '.md_size';
/** Objects moved between disks at once when rebalancing. */
const MD_MOVE_CONCURRENCY = 4;

/**
 * For this long after a disk failed, an object not found may have been on it:
 * the request answers NETWORK_ERROR so that the gateway retries, and the retry
 * waits for the recovery the failure started.
 */
const MD_FAILURE_GRACE_MS = 10_000;

/** errno codes that are outcomes, not a failing disk. */
const NOT_A_DISK_FAILURE: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EAGAIN', 'EINTR', 'EMFILE', 'ENFILE', 'ENOMEM']);

interface Disk {
  path: string;
  store: PlainStore;
  /** bytes this disk stands for on the ring */
  capacity: bigint;
  /** inode of the directory when opened: a new directory under the same name is not our disk */
  ino: number;
}

export type MdChange = 'plugged' | 'unplugged' | 'failed';

export interface MdStoreOptions {
  paths: string[];
  nosync: boolean;
  directIo: boolean;
  trackDirty?: boolean;
  /** every disk in the tree layout (`format -b tree`) */
  tree?: boolean;
  meta: MetaStore;
  log: Logger;
  /**
   * The disk set changed: recover at the current epoch (objects of a failed disk
   * come back from other sheep). `left` is the number of disks still in use.
   */
  onChange: (why: MdChange, left: number) => void;
}

/**
 * Multi-disk store (RAID0 without striping): every object lives whole on one
 * disk, chosen by a consistent hash over virtual disks weighted by capacity.
 * An object not on its expected disk (after a plug or unplug) is found by
 * searching every disk and moved over in the background. A disk that fails
 * (unexpected I/O error, directory removed) leaves the set at once; the
 * request that hit it answers NETWORK_ERROR, which gateways retry, and the
 * sheep recovers that disk's objects from the other sheep.
 */
export class MdStore implements ObjectStore {
  readonly kind = 'plain';
  private disks: Disk[] = [];
  /** unplugged disks whose objects are still being moved off */
  private draining: Disk[] = [];
  private ring: { hash: bigint; disk: Disk }[] = [];
  private readonly lock = new KeyedMutex();
  private health: NodeJS.Timeout | undefined;
  private rebalancing: Promise<void> | undefined;
  private closed = false;
  private lastFailureAt = 0;

  constructor(private readonly o: MdStoreOptions) {}

  // --- the disk set -------------------------------------------------------------

  private async openDisk(path: string, purge: boolean): Promise<Disk> {
    await fsp.mkdir(path, { recursive: true });
    if (purge) {
      // empty it, but keep the directory: it may be a mount point
      for (const name of await fsp.readdir(path)) await fsp.rm(join(path, name), { recursive: true, force: true });
    }
    const store = new PlainStore({
      dir: path, nosync: this.o.nosync, log: this.o.log, directIo: this.o.directIo, trackDirty: this.o.trackDirty,
      tree: this.o.tree,
    });
    await store.init(0);
    let capacity: bigint;
    const sizeFile = join(path, SIZE_FILE);
    try {
      capacity = BigInt((await fsp.readFile(sizeFile, 'utf8')).trim());
    } catch {
      // the original weighs a disk by its free space when first used
      const sp = await store.space();
      capacity = sp.free;
      await fsp.writeFile(sizeFile, `${capacity}\n`);
    }
    const ino = (await fsp.stat(path)).ino;
    return { path, store, capacity, ino };
  }

  private rebuildRing(): void {
    this.ring = mdRing(this.disks);
  }

  /** The disk an object belongs on. */
  private expected(oid: bigint): Disk | undefined {
    return mdDiskOf(this.ring, oid);
  }

  /** Disks that may hold live objects: the expected one first. */
  private searchOrder(oid: bigint): Disk[] {
    const first = this.expected(oid);
    const rest = [...this.disks, ...this.draining].filter((d) => d !== first);
    return first ? [first, ...rest] : rest;
  }

  private holder(ref: ObjectRef): Disk | undefined {
    return this.searchOrder(ref.oid).find((d) => d.store.exists(ref));
  }

  get paths(): string[] {
    return this.disks.map((d) => d.path);
  }

  async init(epoch: number): Promise<void> {
    if (this.o.paths.length > MD_MAX_DISKS) throw new Error(`at most ${MD_MAX_DISKS} disks`);
    for (const p of this.o.paths) this.disks.push(await this.openDisk(p, false));
    this.rebuildRing();
    const names = new Set<string>();
    for (const d of this.disks) for (const n of d.store.names()) names.add(n);
    await this.o.meta.reconcileObjs(names, epoch);
    this.o.log.info('md', `${this.disks.length} disks, ${names.size} objects: ${this.paths.join(', ')}`);
    this.health = setInterval(() => void this.checkDisks(), MD_HEALTH_CHECK_MS);
    this.health.unref();
    void this.startRebalance();
  }

  /** A disk whose directory is gone (or replaced) has failed. */
  private async diskGone(d: Disk): Promise<boolean> {
    try {
      return (await fsp.stat(d.path)).ino !== d.ino;
    } catch {
      return true;
    }
  }

  /** diskGone, answered on the event loop (see confirm). */
  private diskGoneNow(d: Disk): boolean {
    try {
      return statSync(d.path, { throwIfNoEntry: false })?.ino !== d.ino;
    } catch {
      return true;
    }
  }

  private async checkDisks(): Promise<void> {
    for (const d of [...this.disks, ...this.draining]) {
      if (!this.closed && (await this.diskGone(d))) this.fail(d, 'its directory was removed');
    }
  }

  /** Take a disk out of service; recovery brings its objects back from other sheep. */
  private fail(d: Disk, why: string): void {
    const wasActive = this.disks.includes(d);
    if (!wasActive && !this.draining.includes(d)) return;
    this.disks = this.disks.filter((x) => x !== d);
    this.draining = this.draining.filter((x) => x !== d);
    this.rebuildRing();
    this.lastFailureAt = Date.now();
    this.o.log.err('md', `disk ${d.path} failed (${why}): taken out, ${this.disks.length} disks left`);
    void d.store.close();
    this.o.onChange('failed', this.disks.length);
  }

  /**
   * Run an operation on one disk. Errors that are outcomes pass through;
   * anything else means the disk failed: it leaves the set and the caller
   * gets NETWORK_ERROR (the gateway retries, by then recovery is under way).
   */
  private async onDisk<T>(d: Disk, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof SdError) {
        if (e.code === SD_RES.NO_OBJ && (await this.diskGone(d))) {
          this.fail(d, 'its directory was removed');
          throw new SdError(SD_RES.NETWORK_ERROR, `disk ${d.path} failed`);
        }
        throw e;
      }
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new SdError(SD_RES.NO_SPACE, d.path);
      if (NOT_A_DISK_FAILURE.has(code)) throw e;
      this.fail(d, (e as Error).message);
      throw new SdError(SD_RES.NETWORK_ERROR, `disk ${d.path} failed`);
    }
  }

  /**
   * After a mutation: the disk must still be ours, else the write may be lost with it.
   * With -n the write itself was a synchronous copy to the page cache, and so is
   * this stat of a directory in the dentry cache (a few µs); a thread-pool trip
   * for it cost ~100 µs, most of a 4 KiB peer write (measured with
   * SHEEPDOG_STAGE_TIMES, `WRITE_PEER store write`).
   */
  private async confirm(d: Disk): Promise<void> {
    if (this.o.nosync ? this.diskGoneNow(d) : await this.diskGone(d)) {
      this.fail(d, 'its directory was removed');
      throw new SdError(SD_RES.NETWORK_ERROR, `disk ${d.path} failed`);
    }
  }

  /** MD_PLUG: add (purged) directories; the number actually added. */
  async plug(paths: string[]): Promise<number> {
    let added = 0;
    for (const p of paths) {
      if (this.disks.some((d) => d.path === p) || this.disks.length >= MD_MAX_DISKS) continue;
      this.draining = this.draining.filter((d) => d.path !== p);
      this.disks.push(await this.openDisk(p, true));
      added++;
    }
    if (added > 0) {
      this.rebuildRing();
      this.o.log.info('md', `plugged ${added} disks: ${this.paths.join(', ')}`);
      void this.startRebalance().then(() => this.o.onChange('plugged', this.disks.length));
    }
    return added;
  }

  /** MD_UNPLUG: stop placing on these disks and move their objects to the others. */
  async unplug(paths: string[]): Promise<number> {
    const gone = this.disks.filter((d) => paths.includes(d.path));
    if (gone.length === 0) return 0;
    this.disks = this.disks.filter((d) => !gone.includes(d));
    this.rebuildRing();
    this.o.log.info('md', `unplugged ${gone.length} disks, ${this.disks.length} left`);
    if (this.disks.length === 0) {
      for (const d of gone) void d.store.close();
      this.o.onChange('unplugged', 0);
      return gone.length;
    }
    this.draining.push(...gone);
    void this.startRebalance().then(() => this.o.onChange('unplugged', this.disks.length));
    return gone.length;
  }

  private startRebalance(): Promise<void> {
    const run = async () => {
      await this.rebalance().catch((e) => this.o.log.warn('md', `moving objects between disks: ${(e as Error).message}`));
    };
    this.rebalancing = (this.rebalancing ?? Promise.resolve()).then(run);
    return this.rebalancing;
  }

  /** Move every object that is not on its expected disk there; let drained disks go. */
  private async rebalance(): Promise<void> {
    let moved = 0;
    for (const from of [...this.draining, ...this.disks]) {
      const names = [...from.store.names()];
      for (let i = 0; i < names.length && !this.closed; i += MD_MOVE_CONCURRENCY) {
        await Promise.all(names.slice(i, i + MD_MOVE_CONCURRENCY).map(async (name) => {
          const ref = parseObjectName(name)!;
          const to = this.expected(ref.oid);
          if (!to || to === from) return;
          if (await this.move(ref, from, to)) moved++;
        }));
      }
    }
    for (const d of [...this.draining]) {
      if ([...d.store.names()].length > 0) continue;
      this.draining = this.draining.filter((x) => x !== d);
      await d.store.close();
    }
    if (moved > 0) this.o.log.info('md', `${moved} objects moved to their disks`);
  }

  private async move(ref: ObjectRef, from: Disk, to: Disk): Promise<boolean> {
    return this.lock.run(objectName(ref.oid, ref.ec), async () => {
      if (!from.store.exists(ref) || this.expected(ref.oid) !== to) return false;
      const size = await this.onDisk(from, () => from.store.fileSize(ref));
      const data = await this.onDisk(from, () => from.store.read(ref, 0, size));
      await this.onDisk(to, () => to.store.create(ref, 0, data, size, 0));
      await this.onDisk(from, () => from.store.remove(ref));
      return true;
    });
  }

  // --- ObjectStore ------------------------------------------------------------------

  exists(ref: ObjectRef): boolean {
    return this.holder(ref) !== undefined;
  }

  /** The answer for an object no disk holds (see MD_FAILURE_GRACE_MS). */
  private missing(ref: ObjectRef): SdError {
    if (Date.now() - this.lastFailureAt < MD_FAILURE_GRACE_MS) {
      return new SdError(SD_RES.NETWORK_ERROR, `${objectName(ref.oid, ref.ec)}: not found just after a disk failed`);
    }
    return new SdError(SD_RES.NO_OBJ);
  }

  async recheck(ref: ObjectRef): Promise<boolean> {
    const d = this.holder(ref);
    return d !== undefined && d.store.recheck(ref);
  }

  async read(ref: ObjectRef, offset: number, length: number, into?: Buffer): Promise<Buffer> {
    // reads take no lock: an object moved to another disk meanwhile is read there
    for (let attempt = 0; ; attempt++) {
      const d = this.holder(ref);
      if (!d) throw this.missing(ref);
      try {
        return await d.store.read(ref, offset, length, into);
      } catch (e) {
        if (attempt < 3 && this.holder(ref) !== d) continue;
        return this.onDisk(d, () => Promise.reject(e));
      }
    }
  }

  async write(ref: ObjectRef, offset: number, data: Buffer): Promise<void> {
    await this.lock.run(objectName(ref.oid, ref.ec), async () => {
      const d = this.holder(ref);
      if (!d) throw this.missing(ref);
      await this.onDisk(d, () => d.store.write(ref, offset, data));
      await this.confirm(d);
    });
  }

  async create(ref: ObjectRef, offset: number, data: Buffer, fullSize: number, epoch: number): Promise<void> {
    const name = objectName(ref.oid, ref.ec);
    await this.lock.run(name, async () => {
      const to = this.expected(ref.oid);
      if (!to) throw new SdError(SD_RES.NETWORK_ERROR, 'no disk left');
      const fresh = !this.exists(ref);
      await this.onDisk(to, () => to.store.create(ref, offset, data, fullSize, epoch));
      await this.confirm(to);
      for (const d of [...this.disks, ...this.draining]) {
        if (d !== to && d.store.exists(ref)) await this.onDisk(d, () => d.store.remove(ref));
      }
      if (fresh) await this.o.meta.putObj(name, epoch);
    });
  }

  async remove(ref: ObjectRef): Promise<void> {
    const name = objectName(ref.oid, ref.ec);
    await this.lock.run(name, async () => {
      const holders = [...this.disks, ...this.draining].filter((d) => d.store.exists(ref));
      if (holders.length === 0) throw new SdError(SD_RES.NO_OBJ);
      for (const d of holders) await this.onDisk(d, () => d.store.remove(ref));
      await this.o.meta.delObj(name);
    });
  }

  *names(): IterableIterator<string> {
    const seen = new Set<string>();
    for (const d of [...this.disks, ...this.draining]) {
      for (const n of d.store.names()) {
        if (seen.has(n)) continue;
        seen.add(n);
        yield n;
      }
    }
  }

  oids(): bigint[] {
    return mergeOids([...this.disks, ...this.draining].map((d) => d.store.oids()));
  }

  async space(): Promise<SpaceInfo> {
    let size = 0n;
    let free = 0n;
    let used = 0n;
    for (const d of await this.diskInfo()) {
      free += d.free;
      used += d.used;
      size += d.free + d.used;
    }
    return { size, free, used };
  }

  /** Per-disk figures for MD_INFO. */
  async diskInfo(): Promise<DiskInfo[]> {
    const out: DiskInfo[] = [];
    for (const d of this.disks) {
      try {
        const sp = await d.store.space();
        out.push({ path: d.path, free: sp.free, used: sp.used, objects: d.store.oids().length });
      } catch {
        out.push({ path: d.path, free: 0n, used: 0n, objects: 0 });
      }
    }
    return out;
  }

  /** The store driver chosen at format: plain or tree layout on every disk (store empty). */
  async setLayout(tree: boolean): Promise<void> {
    this.o.tree = tree;
    for (const d of this.disks) await this.onDisk(d, () => d.store.setLayout(tree));
  }

  async purge(): Promise<void> {
    for (const d of this.draining) await d.store.close();
    this.draining = [];
    for (const d of this.disks) await this.onDisk(d, () => d.store.purge());
    await this.o.meta.clearObjs();
  }

  async moveToStale(ref: ObjectRef, epoch: number): Promise<void> {
    await this.lock.run(objectName(ref.oid, ref.ec), async () => {
      const d = this.holder(ref);
      if (!d) throw new SdError(SD_RES.NO_OBJ);
      await this.onDisk(d, () => d.store.moveToStale(ref, epoch));
      await this.o.meta.delObj(objectName(ref.oid, ref.ec));
    });
  }

  staleEpoch(ref: ObjectRef): number | undefined {
    let best: number | undefined;
    for (const d of [...this.disks, ...this.draining]) {
      const e = d.store.staleEpoch(ref);
      if (e !== undefined && (best === undefined || e > best)) best = e;
    }
    return best;
  }

  async readStale(ref: ObjectRef, epoch: number, offset: number, length: number): Promise<Buffer> {
    const d = [...this.disks, ...this.draining].find((x) => x.store.hasStale(ref, epoch));
    if (!d) throw new SdError(SD_RES.NO_OBJ);
    return this.onDisk(d, () => d.store.readStale(ref, epoch, offset, length));
  }

  staleOids(): bigint[] {
    return mergeOids([...this.disks, ...this.draining].map((d) => d.store.staleOids()));
  }

  async purgeStale(): Promise<void> {
    for (const d of [...this.disks, ...this.draining]) await this.onDisk(d, () => d.store.purgeStale());
  }

  async sync(): Promise<void> {
    for (const d of [...this.disks, ...this.draining]) await this.onDisk(d, () => d.store.sync());
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.health) clearInterval(this.health);
    for (const d of [...this.disks, ...this.draining]) await d.store.close();
  }
}

/**
 * The md ring: a disk of capacity C stands for ceil(C / MD_VDISK_SIZE) virtual
 * disks at sd_hash_next^k(sd_hash(path)), as md.c's create_vdisks.
 */
export function mdRing<D extends { path: string; capacity: bigint }>(disks: readonly D[]): { hash: bigint; disk: D }[] {
  const ring: { hash: bigint; disk: D }[] = [];
  for (const d of disks) {
    let h = sdHash(Buffer.from(d.path));
    const n = Number((d.capacity + MD_VDISK_SIZE - 1n) / MD_VDISK_SIZE) || 1;
    for (let i = 0; i < n; i++) {
      h = sdHashNext(h);
      ring.push({ hash: h, disk: d });
    }
  }
  ring.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  return ring;
}

/** The disk of an object: the first vdisk with hash >= the oid's hash, wrapping (rb_nsearch). */
export function mdDiskOf<D>(ring: readonly { hash: bigint; disk: D }[], oid: bigint): D | undefined {
  if (ring.length === 0) return undefined;
  const h = sdHashOid(oid);
  let lo = 0;
  let hi = ring.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ring[mid]!.hash < h) lo = mid + 1;
    else hi = mid;
  }
  return ring[lo === ring.length ? 0 : lo]!.disk;
}

function mergeOids(lists: bigint[][]): bigint[] {
  const set = new Set<bigint>();
  for (const l of lists) for (const o of l) set.add(o);
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
