/**
 * The power-cut file system of the fault tests (like Jepsen's LazyFS), as its
 * own process: `node powercut-fs.js BACKING MOUNTPOINT`, driven over the IPC
 * channel by test/lib/powercut.ts. A pass-through FUSE mount of BACKING that
 * remembers every change not yet made durable, so that a power cut can undo it:
 *
 *  - a write is durable once its file is fsync'ed/fdatasync'ed, or at once on a
 *    descriptor opened O_SYNC/O_DSYNC; truncates likewise;
 *  - a file created is durable with an fsync of it or of its directory;
 *  - a rename is durable when its file is (a rename of a synced file is);
 *    a rename over an existing file keeps the old one aside until then.
 *
 * `cut` unmounts (the kernel's caches go too), undoes what was not durable (all
 * of it, a random part of it, or all but a torn prefix of 512-byte sectors of
 * each file's last write) and mounts again. `fault` makes a path prefix answer
 * EIO. Writes go through to BACKING at once (reads see them); an undo log keeps
 * the bytes they replaced. No real fsync is done: durability is this process's
 * bookkeeping. FUSE callbacks run on this event loop: every handler is async.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Fuse = require('fuse-native');

const SECTOR = 512;

type Op =
  | { kind: 'write'; off: number; old: Buffer; oldSize: number; data: Buffer }
  | { kind: 'trunc'; size: number; oldSize: number; oldTail: Buffer };

interface Pending {
  ops: Op[];
  /** created since its last durability point: gone after a cut */
  created: boolean;
  /** the file this one replaced by a rename, kept aside (a hard link) until durable */
  replaced?: string;
}

export type CutMode = 'all' | 'random' | 'torn';

const [backing, mnt] = process.argv.slice(2) as [string, string];
const pending = new Map<string, Pending>();
const fds = new Map<number, { path: string; sync: boolean }>();
const faulty = new Set<string>();
/** special files made by mknod: path -> mode */
const nodes = new Map<string, number>();
const chains = new Map<string, Promise<unknown>>();
let aside = 0;
let fuse: { mount(cb: (e?: Error) => void): void; unmount(cb: (e?: Error) => void): void } | undefined;

const real = (p: string) => join(backing, p);
const isFaulty = (p: string) => [...faulty].some((f) => p === f || p.startsWith(f.endsWith('/') ? f : `${f}/`));
const errno = (e: unknown) => -(Math.abs((e as NodeJS.ErrnoException).errno ?? 5));
const pend = (p: string): Pending => {
  let x = pending.get(p);
  if (!x) pending.set(p, (x = { ops: [], created: false }));
  return x;
};

/** Run the changes of one file one at a time (the undo log needs the bytes each replaced). */
function serial<T>(p: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(p) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  chains.set(p, run.catch(() => {}));
  return run;
}

/** Wrap a handler: EIO on a faulty path, -errno on a failure, the callback once. */
function op(p: string, cb: (code: number, ...rest: unknown[]) => void, fn: () => Promise<unknown[] | void>): void {
  if (isFaulty(p)) {
    cb(Fuse.EIO);
    return;
  }
  fn().then((rest) => cb(0, ...(rest ?? [])), (e) => cb(errno(e)));
}

async function readOld(fd: number, off: number, len: number, size: number): Promise<Buffer> {
  const n = Math.max(0, Math.min(len, size - off));
  const b = Buffer.alloc(n);
  let done = 0;
  while (done < n) {
    const r = await new Promise<number>((res, rej) => fs.read(fd, b, done, n - done, off + done, (e, k) => (e ? rej(e) : res(k))));
    if (r === 0) break;
    done += r;
  }
  return b.subarray(0, done);
}

function durable(p: string): void {
  const x = pending.get(p);
  if (x?.replaced) fs.rmSync(x.replaced, { force: true });
  pending.delete(p);
}

const ops = {
  init: (cb: (c: number) => void) => cb(0),
  statfs: (_p: string, cb: (c: number, s?: unknown) => void) => {
    fs.statfs(backing, (e, s) => (e ? cb(errno(e)) : cb(0, {
      bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail,
      files: s.files, ffree: s.ffree, favail: s.ffree, fsid: 0, flag: 0, namemax: 255,
    })));
  },
  getattr: (p: string, cb: (c: number, s?: unknown) => void) => op(p, cb, async () => {
    const st = await fs.promises.lstat(real(p));
    const special = nodes.get(p);
    return [special === undefined ? st : Object.assign(st, { mode: special })];
  }),
  // a Unix socket bound here (the sheep's `sock`): Node cannot mknod, so a plain
  // file stands in for it and getattr reports the socket's mode
  mknod: (p: string, mode: number, _dev: number, cb: (c: number) => void) => op(p, cb, async () => {
    await fs.promises.writeFile(real(p), '');
    nodes.set(p, mode);
  }),
  access: (p: string, _m: number, cb: (c: number) => void) => op(p, cb, async () => {}),
  readdir: (p: string, cb: (c: number, n?: unknown) => void) => op(p, cb, async () => [await fs.promises.readdir(real(p))]),
  open: (p: string, flags: number, cb: (c: number, fd?: unknown) => void) => op(p, cb, async () => {
    const fd = await new Promise<number>((res, rej) => fs.open(real(p), flags & ~fs.constants.O_DIRECT, (e, f) => (e ? rej(e) : res(f))));
    fds.set(fd, { path: p, sync: (flags & (fs.constants.O_SYNC | fs.constants.O_DSYNC)) !== 0 });
    if ((flags & fs.constants.O_TRUNC) !== 0) pend(p); // (content already gone: treated as durable, as most file systems do)
    return [fd];
  }),
  create: (p: string, mode: number, cb: (c: number, fd?: unknown) => void) => op(p, cb, async () => {
    const existed = fs.existsSync(real(p));
    const fd = await new Promise<number>((res, rej) => fs.open(real(p), fs.constants.O_CREAT | fs.constants.O_RDWR, mode, (e, f) => (e ? rej(e) : res(f))));
    fds.set(fd, { path: p, sync: false });
    if (!existed) pend(p).created = true;
    return [fd];
  }),
  release: (_p: string, fd: number, cb: (c: number) => void) => {
    fds.delete(fd);
    fs.close(fd, () => cb(0));
  },
  flush: (_p: string, _fd: number, cb: (c: number) => void) => cb(0),
  read: (p: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
    if (isFaulty(p)) return cb(Fuse.EIO);
    fs.read(fd, buf, 0, len, pos, (e, n) => cb(e ? errno(e) : n));
  },
  write: (p: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
    if (isFaulty(p)) return cb(Fuse.EIO);
    const data = Buffer.from(buf.subarray(0, len)); // ours: the kernel's buffer is gone after cb
    const file = fds.get(fd)?.path ?? p;
    serial(file, async () => {
      const sync = fds.get(fd)?.sync ?? false;
      const oldSize = (await fs.promises.stat(real(file))).size;
      const old = sync ? Buffer.alloc(0) : await readOld(fd, pos, len, oldSize);
      let done = 0;
      while (done < len) {
        done += await new Promise<number>((res, rej) => fs.write(fd, data, done, len - done, pos + done, (e, k) => (e ? rej(e) : res(k))));
      }
      if (sync) durable(file);
      else pend(file).ops.push({ kind: 'write', off: pos, old, oldSize, data });
      return len;
    }).then((n) => cb(n), (e) => cb(errno(e)));
  },
  truncate: (p: string, size: number, cb: (c: number) => void) => op(p, cb, () => serial(p, () => truncate(p, size))),
  ftruncate: (p: string, fd: number, size: number, cb: (c: number) => void) => op(p, cb, () => serial(fds.get(fd)?.path ?? p, () => truncate(fds.get(fd)?.path ?? p, size))),
  fsync: (p: string, _ds: boolean, fd: number, cb: (c: number) => void) => op(p, cb, async () => {
    const file = fds.get(fd)?.path ?? p;
    await serial(file, async () => durable(file));
  }),
  fsyncdir: (p: string, _ds: boolean, _fd: number, cb: (c: number) => void) => op(p, cb, async () => {
    // the directory's entries are durable: creations and renames into it
    for (const [f, x] of pending) {
      if (dirname(f) !== p) continue;
      x.created = false;
      if (x.replaced) fs.rmSync(x.replaced, { force: true });
      x.replaced = undefined;
      if (x.ops.length === 0) pending.delete(f);
    }
  }),
  unlink: (p: string, cb: (c: number) => void) => op(p, cb, async () => {
    await fs.promises.unlink(real(p));
    nodes.delete(p);
    const x = pending.get(p);
    if (x?.replaced) await fs.promises.rm(x.replaced, { force: true });
    pending.delete(p);
  }),
  rename: (src: string, dst: string, cb: (c: number) => void) => op(src, cb, async () => {
    const from = pending.get(src);
    const old = pending.get(dst);
    let replaced = old?.replaced;
    if (from && (from.created || from.ops.length > 0) && !old?.created && fs.existsSync(real(dst)) && !replaced) {
      // a rename of a file not yet durable over a durable one: keep the old one for a cut
      replaced = join(backing, `.powercut-aside-${process.pid}-${aside++}`);
      await fs.promises.link(real(dst), replaced);
    }
    await fs.promises.rename(real(src), real(dst));
    pending.delete(src);
    if (from) pending.set(dst, { ...from, replaced: replaced ?? from.replaced });
    else if (replaced) fs.rmSync(replaced, { force: true });
    else pending.delete(dst);
  }),
  mkdir: (p: string, mode: number, cb: (c: number) => void) => op(p, cb, () => fs.promises.mkdir(real(p), mode)),
  rmdir: (p: string, cb: (c: number) => void) => op(p, cb, () => fs.promises.rmdir(real(p))),
  utimens: (p: string, a: Date, m: Date, cb: (c: number) => void) => op(p, cb, () => fs.promises.utimes(real(p), a, m)),
  chmod: (p: string, mode: number, cb: (c: number) => void) => op(p, cb, () => fs.promises.chmod(real(p), mode)),
  chown: (p: string, uid: number, gid: number, cb: (c: number) => void) => op(p, cb, () => fs.promises.chown(real(p), uid, gid)),
  link: (src: string, dst: string, cb: (c: number) => void) => op(src, cb, () => fs.promises.link(real(src), real(dst))),
  symlink: (src: string, dst: string, cb: (c: number) => void) => op(dst, cb, () => fs.promises.symlink(src, real(dst))),
  readlink: (p: string, cb: (c: number, l?: unknown) => void) => op(p, cb, async () => [await fs.promises.readlink(real(p))]),
};

async function truncate(p: string, size: number): Promise<void> {
  const oldSize = (await fs.promises.stat(real(p))).size;
  let oldTail = Buffer.alloc(0);
  if (size < oldSize) {
    const fh = await fs.promises.open(real(p), 'r');
    try {
      oldTail = Buffer.alloc(oldSize - size);
      await fh.read(oldTail, 0, oldTail.length, size);
    } finally {
      await fh.close();
    }
  }
  await fs.promises.truncate(real(p), size);
  pend(p).ops.push({ kind: 'trunc', size, oldSize, oldTail });
}

/** Undo one file's changes since its durability point, then redo the kept ones. */
function revert(p: string, x: Pending, mode: CutMode, random: () => number): number {
  const file = real(p);
  if (x.created && !x.replaced) {
    fs.rmSync(file, { force: true });
    return x.ops.length + 1;
  }
  if (x.replaced) fs.renameSync(x.replaced, file);
  if (!fs.existsSync(file)) return x.ops.length;
  const fd = fs.openSync(file, 'r+');
  try {
    if (!x.replaced) {
      for (const o of [...x.ops].reverse()) {
        if (o.kind === 'write') {
          fs.writeSync(fd, o.old, 0, o.old.length, o.off);
          fs.ftruncateSync(fd, o.oldSize);
        } else {
          fs.ftruncateSync(fd, o.oldSize);
          fs.writeSync(fd, o.oldTail, 0, o.oldTail.length, o.size);
        }
      }
    }
    // what survives: nothing, a random part, or a torn prefix of the last write
    const keep: Op[] = [];
    if (!x.replaced && mode === 'random') keep.push(...x.ops.filter(() => random() < 0.5));
    if (!x.replaced && mode === 'torn') {
      const last = x.ops.at(-1);
      if (last?.kind === 'write') {
        const sectors = Math.floor(random() * Math.ceil(last.data.length / SECTOR));
        keep.push({ ...last, data: last.data.subarray(0, sectors * SECTOR) });
      }
    }
    for (const o of keep) {
      if (o.kind === 'write') fs.writeSync(fd, o.data, 0, o.data.length, o.off);
      else fs.ftruncateSync(fd, o.size);
    }
    return x.ops.length - keep.length;
  } finally {
    fs.closeSync(fd);
  }
}

function mount(): Promise<void> {
  fuse = new Fuse(mnt, ops, { force: true, autoUnmount: true, fsname: 'powercut' });
  return new Promise((res, rej) => fuse!.mount((e) => (e ? rej(e) : res())));
}

function unmount(): Promise<void> {
  return new Promise((res) => (fuse ? fuse.unmount(() => res()) : res()));
}

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Command = { id: number; cmd: 'cut'; mode: CutMode; seed: number } | { id: number; cmd: 'fault'; path: string; on: boolean } | { id: number; cmd: 'exit' };

process.on('message', (m: Command) => {
  void (async () => {
    try {
      if (m.cmd === 'cut') {
        await unmount();
        for (const fd of fds.keys()) fs.closeSync(fd);
        fds.clear();
        await Promise.all(chains.values());
        const random = seeded(m.seed);
        let undone = 0;
        // renamed-over files first, so that no revert of one file sees another's aside copy
        for (const [p, x] of [...pending].sort((a, b) => a[0].localeCompare(b[0]))) undone += revert(p, x, m.mode, random);
        pending.clear();
        await mount();
        process.send!({ id: m.id, ok: true, undone });
      } else if (m.cmd === 'fault') {
        if (m.on) faulty.add(m.path);
        else faulty.delete(m.path);
        process.send!({ id: m.id, ok: true });
      } else {
        await unmount();
        process.send!({ id: m.id, ok: true }, () => process.exit(0));
      }
    } catch (e) {
      process.send!({ id: m.id, ok: false, error: (e as Error).message });
    }
  })();
});

process.on('disconnect', () => void unmount().then(() => process.exit(0)));

mount().then(() => process.send!({ ready: true }), (e) => {
  process.stderr.write(`powercut-fs: mount failed: ${(e as Error).message}\n`);
  process.exit(1);
});
