import { constants, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { assert, SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Logger } from '../log.js';
import type { MetaStore } from '../meta.js';
import { objectName, parseObjectName, type ObjectRef, type ObjectStore, type SpaceInfo } from './store.js';

/** Open object files kept for reuse (pread/pwrite on a cached descriptor). */
const FD_CACHE_MAX = 256;
/** How long a measured "used" figure stays good, to keep `dog node info` cheap. */
const USED_CACHE_MS = 2000;

export interface PlainStoreOptions {
  dir: string;
  nosync: boolean;
  meta: MetaStore;
  log: Logger;
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

  constructor(private readonly o: PlainStoreOptions) {
    this.openFlags = constants.O_RDWR | (o.nosync ? 0 : constants.O_DSYNC);
  }

  get dir(): string {
    return this.o.dir;
  }

  get staleDir(): string {
    return join(this.o.dir, '.stale');
  }

  private path(name: string): string {
    return join(this.o.dir, name);
  }

  async init(epoch: number): Promise<void> {
    await fsp.mkdir(this.o.dir, { recursive: true });
    await fsp.mkdir(this.staleDir, { recursive: true });
    for (const name of await fsp.readdir(this.o.dir)) {
      if (name.endsWith('.tmp')) {
        await fsp.rm(this.path(name), { force: true });
        continue;
      }
      if (parseObjectName(name)) this.live.add(name);
    }
    for (const name of await fsp.readdir(this.staleDir)) {
      const m = /^(.+)\.(\d+)$/.exec(name);
      if (m && parseObjectName(m[1]!)) this.addStale(m[1]!, Number(m[2]));
      else if (name.endsWith('.tmp')) await fsp.rm(join(this.staleDir, name), { force: true });
    }
    await this.o.meta.reconcileObjs(this.live, epoch);
    this.o.log.info('store', `plain store at ${this.o.dir}: ${this.live.size} objects`);
  }

  exists(ref: ObjectRef): boolean {
    return this.live.has(objectName(ref.oid, ref.ec));
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
    const fh = this.fds.get(name);
    if (!fh) return;
    this.fds.delete(name);
    void fh.close().catch(() => {});
  }

  async read(ref: ObjectRef, offset: number, length: number): Promise<Buffer> {
    const name = objectName(ref.oid, ref.ec);
    if (!this.live.has(name)) throw noObj();
    const fh = await this.fd(name);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done < length) buf.fill(0, done);
    return buf;
  }

  async write(ref: ObjectRef, offset: number, data: Buffer): Promise<void> {
    const name = objectName(ref.oid, ref.ec);
    if (!this.live.has(name)) throw noObj();
    const fh = await this.fd(name);
    await writeAll(fh, data, offset);
  }

  async create(ref: ObjectRef, offset: number, data: Buffer, fullSize: number, epoch: number): Promise<void> {
    assert(offset + data.length <= fullSize, `create within the object (${offset}+${data.length} <= ${fullSize})`);
    const name = objectName(ref.oid, ref.ec);
    const tmp = this.path(`${name}.tmp`);
    const fh = await fsp.open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o640);
    try {
      await fh.truncate(fullSize);
      if (data.length > 0) await writeAll(fh, data, offset);
      if (!this.o.nosync) await fh.sync();
    } catch (e) {
      await fh.close();
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    this.dropFd(name);
    await fsp.rename(tmp, this.path(name));
    if (!this.o.nosync) await syncDir(this.o.dir);
    const fresh = !this.live.has(name);
    this.live.add(name);
    this.usedCache = null;
    if (fresh) await this.o.meta.putObj(name, epoch);
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
    this.usedCache = null;
    await this.o.meta.delObj(name);
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
    await fsp.rm(this.o.dir, { recursive: true, force: true });
    await fsp.mkdir(this.staleDir, { recursive: true });
    this.live.clear();
    this.stale.clear();
    this.usedCache = null;
    await this.o.meta.clearObjs();
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
    await fsp.rename(this.path(name), join(this.staleDir, `${name}.${epoch}`));
    if (!this.o.nosync) await syncDir(this.staleDir);
    this.live.delete(name);
    this.addStale(name, epoch);
    this.usedCache = null;
    await this.o.meta.delObj(name);
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

  async close(): Promise<void> {
    const all = [...this.fds.values()];
    this.fds.clear();
    await Promise.all(all.map((fh) => fh.close().catch(() => {})));
  }
}

async function writeAll(fh: fsp.FileHandle, data: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
    done += bytesWritten;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
