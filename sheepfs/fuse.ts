/**
 * The only file that knows fuse-native. sheepfs talks to FUSE through the
 * small promise-based FileSystem interface below, so that fuse-native can be
 * replaced (by a libfuse3 binding, say) by rewriting this file alone.
 *
 * What this layer takes care of:
 *  - Errors are thrown as FsError(errno) and become -errno replies.
 *  - Every operation is answered within `opTimeoutMs`; after a reply the
 *    kernel's buffer is never touched again (fuse-native hands us its memory:
 *    a late copy into it would be a use-after-free), so read handlers return
 *    their data and this layer copies it, and write handlers get a copy.
 *  - Mount options fuse-native's list lacks (`big_writes`, `direct_io`) are
 *    appended to the option string it builds (see SheepFuse below).
 *  - Unmounting without spawning from the mounted process: a helper shell is
 *    started before the mount (so it holds no /dev/fuse descriptor); a line on
 *    its stdin makes it run `fusermount -uz`. If sheepfs dies, the helper sees
 *    end-of-file and exits, and `auto_unmount` removes the mount.
 *  - An unmount from outside (`fusermount -u`) is noticed by watching
 *    /proc/self/mountinfo, asynchronously, and reported through onGone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { SdError } from '../shared/errors.js';
import { FsError, E, errnoOf } from './errno.js';

export interface Attr {
  dir: boolean;
  mode: number;
  size: number;
  mtime: Date;
}

/** What a file system implements. Paths are absolute inside the mount ('/', '/vdi/list'). */
export interface FileSystem {
  getattr(path: string): Promise<Attr>;
  readdir(path: string): Promise<string[]>;
  /** returns a handle number (0 is fine when the file needs none) */
  open(path: string, flags: number): Promise<number>;
  release(path: string, fh: number): Promise<void>;
  /** the bytes at [pos, pos+len) (fewer at the end of the file) */
  read(path: string, fh: number, len: number, pos: number): Promise<Buffer>;
  /** data is the caller's own copy; returns the bytes written */
  write(path: string, fh: number, data: Buffer, pos: number): Promise<number>;
  truncate(path: string, size: number): Promise<void>;
  fsync(path: string, fh: number): Promise<void>;
  unlink(path: string): Promise<void>;
}

export interface MountOptions {
  fsname: string;
  /** let the kernel cache file data (false: every file is direct_io) */
  pageCache: boolean;
  debug: boolean;
  /** every operation is answered within this time (EIO after it) */
  opTimeoutMs: number;
  log: (msg: string) => void;
}

export interface Mounted {
  /** Unmount (lazily, like fusermount -uz) and resolve when the mount is gone. */
  unmount(): Promise<void>;
  /** Called once when the mount disappears, whoever removed it. */
  onGone(fn: () => void): void;
}

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...a: any[]) => any;
interface FuseClass {
  new (mnt: string, ops: Record<string, AnyFn>, opts: Record<string, unknown>): FuseInstance;
}
interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  _fuseOptions(): string;
}
const Fuse = require('fuse-native') as FuseClass;

/** fuse-native with extra `-o` options appended to the ones it knows. */
function fuseWithOptions(extra: readonly string[]): FuseClass {
  return class SheepFuse extends (Fuse as FuseClass) {
    override _fuseOptions(): string {
      const base = super._fuseOptions();
      if (extra.length === 0) return base;
      return base ? `${base},${extra.join(',')}` : `-o${extra.join(',')}`;
    }
  } as unknown as FuseClass;
}

/** How often the mount table is read to notice an unmount from outside. */
const MOUNT_WATCH_MS = 500;
/** fuse-native's own timeout, a backstop behind ours. */
const NATIVE_TIMEOUT_SLACK_MS = 5_000;

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Is `mnt` a mount point of a fuse file system now? (reads /proc/self/mountinfo asynchronously) */
export async function isFuseMounted(mnt: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((line) => {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    return unescapeMountinfo(f[4] ?? '') === mnt && sep > 0 && (f[sep + 1] ?? '').startsWith('fuse');
  });
}

/** The helper that unmounts for us; must be started before the mount. */
function startUnmountHelper(mnt: string): ChildProcess {
  const child = spawn('/bin/sh', ['-c', 'read line && exec fusermount -uz -- "$0"', mnt], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true, // Ctrl-C on our terminal must not kill it before it did its job
  });
  child.on('error', () => { /* reported when unmount() finds the mount still there */ });
  child.stdin!.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return child;
}

export async function mount(mnt: string, fs: FileSystem, o: MountOptions): Promise<Mounted> {
  const helper = startUnmountHelper(mnt);
  const ops = adapt(fs, o);
  const extra = ['big_writes', ...(o.pageCache ? [] : ['direct_io'])];
  const SheepFuse = fuseWithOptions(extra);
  const fuse = new SheepFuse(mnt, ops, {
    fsname: o.fsname,
    autoUnmount: true,
    allowOther: true,
    debug: o.debug,
    timeout: o.opTimeoutMs + NATIVE_TIMEOUT_SLACK_MS,
    // the first lookup of a new VDI must see it: no negative caching
    entryTimeout: 1,
    attrTimeout: 1,
  });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));

  const goneListeners: (() => void)[] = [];
  let gone = false;
  const markGone = (): void => {
    if (gone) return;
    gone = true;
    clearInterval(watch);
    for (const fn of goneListeners.splice(0)) fn();
  };
  let checking = false;
  const watch = setInterval(() => {
    if (checking) return;
    checking = true;
    isFuseMounted(mnt).then((m) => { if (!m) markGone(); }, () => {}).finally(() => { checking = false; });
  }, MOUNT_WATCH_MS);

  return {
    onGone(fn) {
      if (gone) fn();
      else goneListeners.push(fn);
    },
    async unmount() {
      if (!gone) {
        helper.stdin!.end('unmount\n');
        const deadline = Date.now() + 10_000;
        while (!gone && Date.now() < deadline) {
          if (!(await isFuseMounted(mnt).catch(() => true))) markGone();
          else await new Promise((r) => setTimeout(r, 50));
        }
      }
      if (!gone) throw new Error(`${mnt} is still mounted`);
    },
  };
}

/** A cheap check that `mnt` exists and is a directory, with the message to print. */
export async function checkMountpoint(mnt: string): Promise<string | undefined> {
  try {
    const st = await stat(mnt);
    if (!st.isDirectory()) return `${mnt} is not a directory`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${mnt}: No such file or directory`;
    if (code === 'ENOTCONN') return `${mnt}: Transport endpoint is not connected (a dead mount: fusermount -u ${mnt})`;
    return `${mnt}: ${(e as Error).message}`;
  }
  if (await isFuseMounted(mnt).catch(() => false)) return `${mnt} is already a FUSE mount point`;
  return undefined;
}

/** fuse-native's callback-style operations around the promise-based FileSystem. */
function adapt(fs: FileSystem, o: MountOptions): Record<string, AnyFn> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;

  /** Run op; reply once, with `ok(v)` or the errno, within the time bound. */
  function guarded<T>(name: string, path: string, op: () => Promise<T>, reply: (res: number, v?: T) => void, ok: (v: T) => number = () => 0): void {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      o.log(`${name} ${path}: no answer in ${o.opTimeoutMs} ms, EIO`);
      reply(-E.EIO);
    }, o.opTimeoutMs);
    op().then((v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reply(ok(v), v);
    }, (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const errno = errnoOf(err);
      if (err instanceof SdError) o.log(`${name} ${path}: ${err.message}`);
      else if (!(err instanceof FsError)) o.log(`${name} ${path}: ${(err as Error)?.stack ?? err}`);
      reply(-errno);
    });
  }

  const toStat = (a: Attr) => ({
    mode: (a.dir ? 0o040000 : 0o100000) | a.mode,
    uid, gid,
    size: a.size,
    nlink: a.dir ? 2 : 1,
    blksize: 4096,
    blocks: Math.ceil(a.size / 512),
    mtime: a.mtime, atime: a.mtime, ctime: a.mtime,
  });

  return {
    getattr(path: string, cb: AnyFn) {
      guarded('getattr', path, () => fs.getattr(path), (res, a) => (res < 0 ? cb(res) : cb(0, toStat(a!))));
    },
    readdir(path: string, cb: AnyFn) {
      guarded('readdir', path, () => fs.readdir(path), (res, names) => (res < 0 ? cb(res) : cb(0, ['.', '..', ...names!])));
    },
    open(path: string, flags: number, cb: AnyFn) {
      guarded('open', path, () => fs.open(path, flags), (res, fh) => (res < 0 ? cb(res) : cb(0, fh)));
    },
    release(path: string, fh: number, cb: AnyFn) {
      guarded('release', path, () => fs.release(path, fh), (res) => cb(res));
    },
    read(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: AnyFn) {
      guarded('read', path, () => fs.read(path, fh, len, pos), (res, data) => {
        if (res < 0) return cb(res);
        const n = Math.min(len, data!.length);
        data!.copy(buf, 0, 0, n);
        return cb(n);
      });
    },
    write(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: AnyFn) {
      const copy = Buffer.from(buf.subarray(0, len));
      guarded('write', path, () => fs.write(path, fh, copy, pos), (res, n) => cb(res < 0 ? res : n!));
    },
    truncate(path: string, size: number, cb: AnyFn) {
      guarded('truncate', path, () => fs.truncate(path, size), (res) => cb(res));
    },
    ftruncate(path: string, _fh: number, size: number, cb: AnyFn) {
      guarded('ftruncate', path, () => fs.truncate(path, size), (res) => cb(res));
    },
    fsync(path: string, _datasync: number, fh: number, cb: AnyFn) {
      guarded('fsync', path, () => fs.fsync(path, fh), (res) => cb(res));
    },
    flush(path: string, fh: number, cb: AnyFn) {
      guarded('flush', path, () => fs.fsync(path, fh), (res) => cb(res));
    },
    unlink(path: string, cb: AnyFn) {
      guarded('unlink', path, () => fs.unlink(path), (res) => cb(res));
    },
    utimens(_path: string, _a: unknown, _m: unknown, cb: AnyFn) {
      cb(0);
    },
    chmod(_path: string, _mode: number, cb: AnyFn) {
      cb(-E.EPERM);
    },
    chown(_path: string, _u: number, _g: number, cb: AnyFn) {
      cb(-E.EPERM);
    },
  };
}
