/**
 * The sheepfs tree: one table of path patterns (ROUTES), each giving the kind
 * of entry found there, and the FileSystem operations that serve any entry by
 * its kind. Adding a file means adding one row.
 *
 * Kinds:
 *  - dir:     a directory; list() names its entries.
 *  - report:  read-only text made from the cluster's state (0444). open()
 *             makes the text afresh and the open file keeps it; stat reuses
 *             the text of an open or stat less than CONTENT_MAX_AGE_MS old, so
 *             `cat` right after `stat` (or `ls -l`) reads what stat sized.
 *  - control: small text that can be written (vdi/mount, config/...): a
 *             write() acts at once and fails with its errno.
 *  - volume:  a VDI's data (see volume.ts). A writable one is known by the
 *             VDI's name: when a snapshot is taken while it is open, its
 *             writes carry on at the VDI's new working vid (FollowedVdi).
 */
import { E, fail, FsError } from './errno.js';
import type { Attr, FileSystem } from './fuse.js';
import type { Catalogue, Listing, VdiEntry } from './catalogue.js';
import type { FlushTarget } from './cached-writes.js';
import type { SheepLink } from './link.js';
import { clusterInfo, nodeInfo, nodeListReport, nodeStat, vdiInfo, vdiList, vdiObjects } from './reports.js';
import { Volume, type IoFlags } from './volume.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import { isSnapshot } from '../shared/inode.js';
import { vidToVdiOid } from '../shared/oid.js';
import { FollowedVdi } from '../shared/vdi-volume.js';

const CONTENT_MAX_AGE_MS = 1_000;
const O_ACCMODE = 3;
const O_RDONLY = 0;

export type Entry =
  | { kind: 'dir'; list(): Promise<string[]> }
  | { kind: 'report'; content(): Promise<string> }
  | { kind: 'control'; content(): string; write(text: string): Promise<void> }
  | { kind: 'volume'; vid: number; readOnly: boolean; size: number; name: string };

type Params = Record<string, string>;
interface Route { pattern: string; entry: (t: Tree, p: Params) => Promise<Entry | undefined> | Entry | undefined }

const dir = (names: string[] | (() => Promise<string[]>)): Entry =>
  ({ kind: 'dir', list: typeof names === 'function' ? names : async () => names });
const report = (content: () => Promise<string>): Entry => ({ kind: 'report', content });

/** The tree. Fixed names come before patterns, so `vdi/list` is never read as a VDI named "list". */
export const ROUTES: readonly Route[] = [
  { pattern: '/', entry: () => dir(['cluster', 'config', 'node', 'vdi', 'volume']) },
  { pattern: '/cluster', entry: () => dir(['info']) },
  { pattern: '/cluster/info', entry: (t) => report(() => clusterInfo(t.link)) },
  { pattern: '/node', entry: () => dir(['info', 'list', 'stat']) },
  { pattern: '/node/list', entry: (t) => report(() => nodeListReport(t.link)) },
  { pattern: '/node/info', entry: (t) => report(() => nodeInfo(t.link, t.catalogue)) },
  { pattern: '/node/stat', entry: (t) => report(() => nodeStat(t.link)) },
  { pattern: '/config', entry: () => dir(['object_cache', 'page_cache', 'sheep_info']) },
  { pattern: '/config/page_cache', entry: (t) => t.flagFile('pageCache') },
  { pattern: '/config/object_cache', entry: (t) => t.flagFile('objectCache') },
  { pattern: '/config/sheep_info', entry: (t) => t.sheepInfoFile() },
  { pattern: '/vdi', entry: (t) => dir(async () => ['list', 'mount', 'unmount', ...vdiNames(await t.catalogue.listing())]) },
  { pattern: '/vdi/list', entry: (t) => report(() => vdiList(t.link, t.catalogue)) },
  { pattern: '/vdi/mount', entry: (t) => t.attachFile() },
  { pattern: '/vdi/unmount', entry: (t) => t.detachFile() },
  { pattern: '/vdi/:name', entry: async (t, p) => (await t.working(p.name!)) && dir(['info', 'objects', 'snapshots', 'volume']) },
  { pattern: '/vdi/:name/volume', entry: async (t, p) => volumeEntry(await t.working(p.name!), false) },
  { pattern: '/vdi/:name/info', entry: async (t, p) => { const e = await t.working(p.name!); return e && report(() => vdiInfo(t.link, t.catalogue, e)); } },
  { pattern: '/vdi/:name/objects', entry: async (t, p) => { const e = await t.working(p.name!); return e && report(() => vdiObjects(t.link, e)); } },
  { pattern: '/vdi/:name/snapshots', entry: async (t, p) => (await t.working(p.name!)) && dir(async () => snapshotNames(await t.catalogue.listing(), p.name!)) },
  { pattern: '/vdi/:name/snapshots/:snap', entry: async (t, p) => volumeEntry(findSnapshot(await t.catalogue.listing(), p.name!, p.snap!), true) },
  { pattern: '/volume', entry: (t) => dir(async () => [...t.attached.keys()]) },
  { pattern: '/volume/:name', entry: async (t, p) => t.attachedEntry(p.name!) },
];

/** Names that can be shown as a directory entry. */
const usable = (name: string): boolean => name !== '' && name !== '.' && name !== '..' && !name.includes('/');

function vdiNames(l: Listing): string[] {
  return [...l.working.keys()].filter((n) => usable(n) && n !== 'list' && n !== 'mount' && n !== 'unmount').sort();
}

function snapshotNames(l: Listing, name: string): string[] {
  const names = new Set<string>();
  for (const s of l.snapshots.get(name) ?? []) {
    names.add(String(s.header.snapId));
    if (s.header.tag && usable(s.header.tag)) names.add(s.header.tag);
  }
  return [...names];
}

function findSnapshot(l: Listing, name: string, snap: string): VdiEntry | undefined {
  const list = l.snapshots.get(name) ?? [];
  return list.find((s) => String(s.header.snapId) === snap) ?? list.find((s) => s.header.tag === snap);
}

function volumeEntry(e: VdiEntry | undefined, readOnly: boolean): Entry | undefined {
  if (!e) return undefined;
  return { kind: 'volume', vid: e.vid, readOnly: readOnly || isSnapshot(e.header), size: Number(e.vdiSize), name: e.header.name };
}

/** Open volumes are shared: a writable one by the VDI's name (its vid changes with snapshots), a snapshot by vid. */
function volumeKey(e: { vid: number; readOnly: boolean; name: string }): string {
  return e.readOnly ? `snapshot ${e.vid}` : `vdi ${e.name}`;
}

/** A volume and the handles open on it. */
interface OpenVolume {
  key: string;
  f: FollowedVdi<Volume>;
  opens: number;
}

function match(pattern: string, path: string): Params | undefined {
  const ps = pattern.split('/').filter(Boolean);
  const xs = path.split('/').filter(Boolean);
  if (ps.length !== xs.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < ps.length; i++) {
    if (ps[i]!.startsWith(':')) params[ps[i]!.slice(1)] = xs[i]!;
    else if (ps[i] !== xs[i]) return undefined;
  }
  return params;
}

type Handle =
  | { kind: 'text'; data: Buffer }
  | { kind: 'control'; entry: Extract<Entry, { kind: 'control' }> }
  | { kind: 'volume'; open: OpenVolume; lossesSeen: number };

/** What has seen the cached-write losses of a VDI up to some count (a volume handle, or detach). */
interface LossWatcher { lossesSeen: number }

export interface TreeOptions {
  pageCache: boolean;
  objectCache: boolean;
  log: (msg: string) => void;
}

export class Tree implements FileSystem {
  /** volume/<name> attached through vdi/mount: name -> vid */
  readonly attached = new Map<string, number>();
  private readonly volumes = new Map<string, OpenVolume>();
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;
  private readonly texts = new Map<string, { at: number; data: Promise<Buffer> }>();
  private readonly mountedAt = new Date();
  readonly flags: IoFlags;
  private readonly settings: { pageCache: boolean; objectCache: boolean };

  constructor(readonly link: SheepLink, readonly catalogue: Catalogue, private readonly o: TreeOptions) {
    this.settings = { pageCache: o.pageCache, objectCache: o.objectCache };
    const settings = this.settings;
    this.flags = { get cache() { return settings.objectCache; } };
  }

  usesPageCache(): boolean {
    return this.settings.pageCache;
  }

  async working(name: string): Promise<VdiEntry | undefined> {
    if (!usable(name)) return undefined;
    return (await this.catalogue.listing()).working.get(name);
  }

  flagFile(which: 'pageCache' | 'objectCache'): Entry {
    return {
      kind: 'control',
      content: () => `${this.settings[which] ? 1 : 0}\n`,
      write: async (text) => {
        const t = text.trim();
        if (!/^[+-]?\d+$/.test(t)) fail(E.EINVAL);
        this.settings[which] = Number(t) !== 0;
      },
    };
  }

  sheepInfoFile(): Entry {
    return {
      kind: 'control',
      content: () => `${this.link.target.host}:${this.link.target.port}\n`,
      write: async (text) => {
        const m = /^\s*([^\s:]+|\[[0-9a-fA-F:]+\]):(\d+)\s*$/.exec(text);
        const port = Number(m?.[2]);
        if (!m || !(port >= 1 && port <= 65535)) fail(E.EINVAL);
        const host = m![1]!.replace(/^\[|\]$/g, '');
        try {
          await this.link.retarget({ host, port });
        } catch {
          fail(E.EINVAL);
        }
        this.catalogue.invalidate();
      },
    };
  }

  attachFile(): Entry {
    return {
      kind: 'control',
      content: () => '',
      write: async (text) => {
        const name = text.replace(/\n$/, '');
        if (!usable(name)) fail(E.EINVAL);
        if (this.attached.has(name)) return;
        this.catalogue.invalidate();
        const e = (await this.catalogue.listing()).working.get(name);
        if (!e) fail(E.EINVAL);
        this.attached.set(name, e!.vid);
      },
    };
  }

  detachFile(): Entry {
    return {
      kind: 'control',
      content: () => '',
      write: async (text) => {
        const name = text.replace(/\n$/, '');
        const vid = this.attached.get(name);
        if (vid === undefined) fail(E.EINVAL);
        // as the original: a failed flush fails the detach (the volume stays attached);
        // after a snapshot the VDI's current vid is the one its cache holds
        this.catalogue.invalidate();
        const open = this.volumes.get(volumeKey({ vid: vid!, readOnly: false, name }))?.f.volume;
        const current = open?.vid ?? (await this.working(name))?.vid ?? vid!;
        await this.cacheOp(SD_OP.FLUSH_DEL_CACHE, current, this.detachWatcher(current));
        this.attached.delete(name);
      },
    };
  }

  /** volume/<name>: the VDI of that name, followed through snapshots as vdi/<name>/volume is. */
  async attachedEntry(name: string): Promise<Entry | undefined> {
    const vid = this.attached.get(name);
    if (vid === undefined) return undefined;
    const open = this.volumes.get(volumeKey({ vid, readOnly: false, name }))?.f.volume;
    if (open) return { kind: 'volume', vid: open.vid, readOnly: false, size: open.size, name };
    const l = await this.catalogue.listing();
    const e = l.working.get(name) ?? l.all.find((x) => x.vid === vid);
    return e ? volumeEntry(e, false) : undefined;
  }

  private async resolve(path: string): Promise<Entry> {
    for (const r of ROUTES) {
      const p = match(r.pattern, path);
      if (!p) continue;
      const e = await r.entry(this, p);
      if (e) return e;
    }
    return fail(E.ENOENT);
  }

  /** A report's text, shared by stat and open for CONTENT_MAX_AGE_MS. */
  private text(path: string, make: () => Promise<string>, fresh = false): Promise<Buffer> {
    const c = this.texts.get(path);
    if (c && !fresh && Date.now() - c.at <= CONTENT_MAX_AGE_MS) return c.data;
    const data = make().then((s) => Buffer.from(s, 'utf8'));
    this.texts.set(path, { at: Date.now(), data });
    data.catch(() => { if (this.texts.get(path)?.data === data) this.texts.delete(path); });
    return data;
  }

  async getattr(path: string): Promise<Attr> {
    const e = await this.resolve(path);
    const mtime = this.mountedAt;
    switch (e.kind) {
      case 'dir': return { dir: true, mode: 0o755, size: 4096, mtime };
      case 'report': return { dir: false, mode: 0o444, size: (await this.text(path, e.content)).length, mtime };
      case 'control': return { dir: false, mode: 0o644, size: Buffer.byteLength(e.content()), mtime };
      case 'volume': {
        const open = this.volumes.get(volumeKey(e))?.f.volume;
        return { dir: false, mode: e.readOnly ? 0o444 : 0o644, size: open ? open.size : e.size, mtime };
      }
    }
  }

  async readdir(path: string): Promise<string[]> {
    const e = await this.resolve(path);
    if (e.kind !== 'dir') fail(E.ENOTDIR);
    return (e as Extract<Entry, { kind: 'dir' }>).list();
  }

  private addHandle(h: Handle): number {
    const fh = this.nextFh;
    this.nextFh = (this.nextFh % 0x7fffffff) + 1;
    this.handles.set(fh, h);
    return fh;
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) fail(E.EBADF);
    return h!;
  }

  async open(path: string, flags: number): Promise<number> {
    const e = await this.resolve(path);
    const writing = (flags & O_ACCMODE) !== O_RDONLY;
    switch (e.kind) {
      case 'dir': return fail(E.EISDIR);
      case 'report':
        if (writing) fail(E.EACCES);
        return this.addHandle({ kind: 'text', data: await this.text(path, e.content, true) });
      case 'control':
        return this.addHandle({ kind: 'control', entry: e });
      case 'volume': {
        if (writing && e.readOnly) fail(E.EROFS);
        const key = volumeKey(e);
        let open = this.volumes.get(key);
        if (!open) {
          open = { key, f: this.followed(e), opens: 0 };
          this.volumes.set(key, open);
        }
        open.opens++;
        try {
          // the listing may predate a snapshot: a writer asks which vid is current (a
          // lookup is bounded as a write, so readers, bounded shorter, take the listing's)
          if (!(writing && (await open.f.reload()))) await open.f.volume.refresh();
        } catch (err) {
          this.releaseVolume(open);
          throw err;
        }
        // losses of cached writes before this open are not this file's to report
        return this.addHandle({ kind: 'volume', open, lossesSeen: this.link.cached.lossCount(open.f.volume.vid) });
      }
    }
  }

  private followed(e: Extract<Entry, { kind: 'volume' }>): FollowedVdi<Volume> {
    const make = (vid: number): Volume => new Volume(this.link, vid, e.readOnly, this.flags);
    return new FollowedVdi(this.link, e.name, make(e.vid), make, (vid) => {
      this.o.log(`${e.name}: now VDI ${vid.toString(16)} (a snapshot was taken)`);
      this.catalogue.invalidate();
    });
  }

  private releaseVolume(open: OpenVolume): void {
    open.opens--;
    if (open.opens <= 0 && this.volumes.get(open.key) === open) this.volumes.delete(open.key);
  }

  async release(_path: string, fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    if (h.kind === 'volume') {
      try {
        await h.open.f.volume.flush();
      } finally {
        this.releaseVolume(h.open);
      }
    }
  }

  async read(_path: string, fh: number, len: number, pos: number): Promise<Buffer> {
    const h = this.handle(fh);
    switch (h.kind) {
      case 'text': return h.data.subarray(Math.min(pos, h.data.length), Math.min(pos + len, h.data.length));
      case 'control': {
        const data = Buffer.from(h.entry.content());
        return data.subarray(Math.min(pos, data.length), Math.min(pos + len, data.length));
      }
      case 'volume': return h.open.f.volume.read(len, pos);
    }
  }

  async write(_path: string, fh: number, data: Buffer, pos: number): Promise<number> {
    const h = this.handle(fh);
    switch (h.kind) {
      case 'text': return fail(E.EACCES);
      case 'control':
        await h.entry.write(data.toString('utf8'));
        return data.length;
      case 'volume': return h.open.f.io((vol) => vol.write(data, pos));
    }
  }

  async truncate(path: string, size: number): Promise<void> {
    const e = await this.resolve(path);
    if (e.kind === 'dir') fail(E.EISDIR);
    if (e.kind !== 'volume') return; // as the original: lets `echo x > file` open with O_TRUNC
    const open = this.volumes.get(volumeKey(e));
    const f = open?.f ?? this.followed(e);
    // the inode write of a resize is not refused on a snapshot: find the current vid first
    if (!(await f.reload()) && !open) await f.volume.refresh();
    await f.volume.resize(size);
    this.catalogue.invalidate();
  }

  async fsync(_path: string, fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (!h || h.kind !== 'volume') return;
    const vol = h.open.f.volume;
    await vol.flush();
    await this.cacheOp(SD_OP.FLUSH_VDI, vol.vid, h);
  }

  /** Detach's view of a VDI's cached-write losses (it has no open file). */
  private readonly detachLosses = new Map<number, LossWatcher>();

  private detachWatcher(vid: number): LossWatcher {
    let w = this.detachLosses.get(vid);
    if (!w) this.detachLosses.set(vid, w = { lossesSeen: 0 });
    return w;
  }

  /**
   * With -o (object cache): write a VDI's dirty objects back (FLUSH_VDI,
   * FLUSH_DEL_CACHE) on every sheep that acknowledged cached writes of it
   * not flushed yet (the current sheep when none); EIO when that fails, when
   * such a sheep's connection broke during the flush, or when cached writes
   * were lost since `watcher` last looked (reported once to each).
   *
   * The losses and the sheep still holding cached writes are checked even
   * when the object cache is off now: it is turned off (by a sheep without
   * one, or config/object_cache) while writes sent with the flag may have been
   * acknowledged from a cache, or lost with it, and those fsyncs must not
   * succeed without them.
   */
  private async cacheOp(op: number, vid: number, watcher: LossWatcher): Promise<void> {
    const losses = this.link.cached.lossCount(vid);
    if (losses > watcher.lossesSeen) {
      watcher.lossesSeen = losses;
      fail(E.EIO, 'cache flush: a sheep that held cached writes went away before they were flushed');
    }
    const pending = this.link.cached.begin(vid);
    if (pending.length === 0 && !this.settings.objectCache) return;
    const req = SdHeader.request(op);
    req.objOid = vidToVdiOid(vid);
    const targets: (FlushTarget | undefined)[] = pending.length > 0 ? pending : [undefined];
    const breaks = targets.map((t) => (t ? this.link.cached.breakCount(t.target) : 0));
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      const r = await this.link.request(req, undefined, t ? { to: t.target } : {})
        .catch((e: unknown) => fail(E.EIO, `cache flush: ${(e as Error).message}`));
      if (t && this.link.cached.breakCount(t.target) !== breaks[i]) {
        // answered, but maybe by a restarted sheep: what the one before had cached is gone
        fail(E.EIO, `cache flush: the connection to ${t.target.host}:${t.target.port} broke during the flush`);
      }
      // a sheep without an object cache says INVALID_PARMS: what it acknowledged
      // went straight to the copies; stop asking (as the original)
      if (r.hdr.result === SD_RES.INVALID_PARMS) this.settings.objectCache = false;
      else if (r.hdr.result !== SD_RES.SUCCESS) fail(E.EIO, `cache flush: result ${r.hdr.result}`);
      if (t) this.link.cached.flushed(t, vid);
    }
  }

  async unlink(path: string): Promise<void> {
    // `rm volume/<name>` succeeds and changes nothing, as in the original (detach with vdi/unmount)
    if (match('/volume/:name', path) && this.attached.has(path.split('/')[2]!)) return;
    await this.resolve(path);
    fail(E.ENOSYS);
  }

  /** Wait for every volume's writes (before unmounting). */
  async flushAll(): Promise<void> {
    await Promise.allSettled([...this.volumes.values()].map((v) => v.f.volume.flush()));
  }
}
