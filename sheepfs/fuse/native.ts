/**
 * The fallback backend: fuse-native (libfuse2). Requests of 128 KiB at most,
 * and the kernel serialises direct writes to one file; it runs where the
 * kernel backend cannot (not root, no usable /dev/fuse).
 *
 *  - fuse-native hands us its memory: after a reply the kernel's buffer is
 *    never touched again (a late copy into it would be a use-after-free), so
 *    read handlers return their data and this layer copies it, and write
 *    handlers get a copy.
 *  - Mount options fuse-native's list lacks (`big_writes`, `direct_io`) are
 *    appended to the option string it builds (see fuseWithOptions).
 *  - Unmounting: the helper runs `fusermount -uz`; if sheepfs dies, the helper
 *    sees end-of-file and exits, and `auto_unmount` removes the mount.
 */
import { createRequire } from 'node:module';
import { E } from '../errno.js';
import type { Attr, Backend, FileSystem, MountOptions } from './types.js';
import { guarded } from './guard.js';
import { startUnmountHelper } from './helper.js';

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

/** fuse-native's own timeout, a backstop behind ours. */
const NATIVE_TIMEOUT_SLACK_MS = 5_000;

/** fuse-native with extra `-o` options appended to the ones it knows. */
function fuseWithOptions(Fuse: FuseClass, extra: readonly string[]): FuseClass {
  return class SheepFuse extends (Fuse as FuseClass) {
    override _fuseOptions(): string {
      const base = super._fuseOptions();
      if (extra.length === 0) return base;
      return base ? `${base},${extra.join(',')}` : `-o${extra.join(',')}`;
    }
  } as unknown as FuseClass;
}

export async function mountNative(mnt: string, fs: FileSystem, o: MountOptions): Promise<Backend> {
  const Fuse = require('fuse-native') as FuseClass;
  const helper = startUnmountHelper('read line && exec fusermount -uz -- "$0"', mnt);
  const SheepFuse = fuseWithOptions(Fuse, ['big_writes', ...(o.pageCache ? [] : ['direct_io'])]);
  const fuse = new SheepFuse(mnt, adapt(fs, o), {
    fsname: o.fsname,
    autoUnmount: true,
    allowOther: true,
    debug: o.debug,
    timeout: o.opTimeoutMs + NATIVE_TIMEOUT_SLACK_MS,
    // the first lookup of a new VDI must see it: no negative caching
    entryTimeout: 1,
    attrTimeout: 1,
  });
  try {
    await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
  } catch (e) {
    helper.cancel();
    throw e;
  }
  return {
    description: 'fuse-native (libfuse2, 128 KiB requests)', unmount: helper.unmount, dismiss: helper.cancel, onEnd: () => {},
    quiesce: async () => true,
  };
}

/** fuse-native's callback-style operations around the promise-based FileSystem. */
function adapt(fs: FileSystem, o: MountOptions): Record<string, AnyFn> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const g = <T>(name: string, path: string, op: () => Promise<T>, reply: (res: number, v?: T) => void): void => guarded(o, name, path, op, reply);

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
      g('getattr', path, () => fs.getattr(path), (res, a) => (res < 0 ? cb(res) : cb(0, toStat(a!))));
    },
    readdir(path: string, cb: AnyFn) {
      g('readdir', path, () => fs.readdir(path), (res, names) => (res < 0 ? cb(res) : cb(0, ['.', '..', ...names!])));
    },
    open(path: string, flags: number, cb: AnyFn) {
      g('open', path, () => fs.open(path, flags), (res, fh) => (res < 0 ? cb(res) : cb(0, fh)));
    },
    release(path: string, fh: number, cb: AnyFn) {
      g('release', path, () => fs.release(path, fh), (res) => cb(res));
    },
    read(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: AnyFn) {
      g('read', path, () => fs.read(path, fh, len, pos), (res, data) => {
        if (res < 0) return cb(res);
        const n = Math.min(len, data!.length);
        data!.copy(buf, 0, 0, n);
        return cb(n);
      });
    },
    write(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: AnyFn) {
      const copy = Buffer.from(buf.subarray(0, len));
      g('write', path, () => fs.write(path, fh, copy, pos), (res, n) => cb(res < 0 ? res : n!));
    },
    truncate(path: string, size: number, cb: AnyFn) {
      g('truncate', path, () => fs.truncate(path, size), (res) => cb(res));
    },
    ftruncate(path: string, _fh: number, size: number, cb: AnyFn) {
      g('ftruncate', path, () => fs.truncate(path, size), (res) => cb(res));
    },
    fsync(path: string, _datasync: number, fh: number, cb: AnyFn) {
      g('fsync', path, () => fs.fsync(path, fh), (res) => cb(res));
    },
    flush(path: string, fh: number, cb: AnyFn) {
      g('flush', path, () => fs.fsync(path, fh), (res) => cb(res));
    },
    unlink(path: string, cb: AnyFn) {
      g('unlink', path, () => fs.unlink(path), (res) => cb(res));
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
