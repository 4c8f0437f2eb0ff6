/**
 * The kernel backend: the FUSE protocol spoken directly over /dev/fuse, so
 * that sheepfs gets what libfuse2 cannot ask for: 1 MiB requests (max_pages
 * 256), parallel direct writes to one file, asynchronous direct I/O.
 *
 * How /dev/fuse is read without blocking the event loop: READERS blocking
 * reads are kept outstanding on the libuv thread pool, each into a buffer
 * lent from a pool; the kernel hands each request to one of them, and the
 * request is handled on the loop when its read completes. Measured against
 * the alternative of an O_NONBLOCK descriptor polled by the loop itself (a
 * libuv stream over it, read on the loop), the pool was much faster on these
 * 2-core machines under heavy load (no-op 4 KiB reads one in flight: 111 vs
 * 569 µs median) and a little slower when idle (a no-op server: 39-66 vs
 * 17-56 µs); both moved 1 MiB reads alike. Two costs, handled: those threads are the pool's
 * (default 4, and it cannot be raised once Node has started it: two are left
 * for the little other file work sheepfs does), and process.exit waits for
 * pool threads, so a read the kernel never completes (files still open
 * after a lazy unmount) would hang the exit: quiesce() says so and the caller
 * ends the process otherwise.
 *
 * Replies go out with one writev (header + data) on the loop: a write to
 * /dev/fuse never waits, it hands the bytes to the request the kernel holds.
 * Header and fixed-size reply structs share one scratch buffer (the kernel
 * has copied it when writev returns).
 *
 * Mounting (root only): open /dev/fuse, then `mount -i -c -t fuse -o
 * fd=3,...` from a child given the descriptor as fd 3 (Node opens with
 * O_CLOEXEC: no other child inherits it). The kernel's first request is INIT.
 * The unmount helper (started before the open) runs `umount -l` when asked or
 * when sheepfs dies, since nothing else would remove a dead mount here.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, read, writev, writevSync } from 'node:fs';
import { E } from '../errno.js';
import {
  FATTR, FOPEN, INIT, OP, SIZE, WRITE_DATA_AT, decodeBatchForget, decodeFh, decodeForget, decodeInHeader, decodeInitIn,
  decodeIoIn, decodeName, decodeOpenFlags, decodeSetattrIn, encodeAttrOut, encodeDirent, encodeEntryOut, encodeInitOut,
  encodeOpenOut, encodeOutHeader, encodeStatfsOut, encodeWriteOut, type NodeAttr,
} from './codec.js';
import { guarded } from './guard.js';
import { startUnmountHelper } from './helper.js';
import { waitUnmounted } from './mountinfo.js';
import type { Attr, Backend, FileSystem, MountOptions } from './types.js';

/** The protocol we speak (the kernel's own when older). */
const OUR_MINOR = 45;
/** FOPEN_PARALLEL_DIRECT_WRITES came with 7.36; older kernels get fuse-native. */
const MIN_MINOR = 36;
const PAGE = 4096;
const MAX_PAGES = 256;
const MAX_WRITE = MAX_PAGES * PAGE;
/** A read of /dev/fuse needs room for the largest request: max_write + headers. */
const REQUEST_BUFFER = MAX_WRITE + PAGE;
/** Buffers kept for reuse (each 1 MiB + 4 KiB); more are made when more requests are in flight. */
const FREE_BUFFERS_MAX = 16;
/** Asynchronous requests (direct I/O, readahead) the kernel keeps in flight. */
const MAX_BACKGROUND = 64;
const CONGESTION_THRESHOLD = 48;
/** Entry and attribute cache time, as fuse-native had (no negative caching). */
const VALID_S = 1;
const MOUNT_TIMEOUT_MS = 10_000;
const INIT_TIMEOUT_MS = 10_000;
/** How long a mount that failed at INIT may take to go before we give up on the fallback. */
const UNDO_MOUNT_MS = 10_000;
const ROOT_ID = 1;
const UNKNOWN_INO = 0xffffffff;
/** Blocking reads kept outstanding on the libuv pool (of its 4 threads). */
const READERS = 2;
/**
 * Replies carrying at least this much data are written from the thread pool:
 * the kernel copies them into the reader's pages inside that write (1 MiB: the
 * largest single cost of a sequential read, 12% of sheepfs's loop in a profile),
 * and the loop meanwhile goes on with the next requests. Smaller replies are
 * written at once: a pool trip would cost more than their copy.
 */
const ASYNC_REPLY_MIN_BYTES = 128 * 1024;
/** How long quiesce() waits for the outstanding reads to end after the unmount. */
const QUIESCE_MS = 2_000;
const WANTED_FLAGS = INIT.ASYNC_READ | INIT.BIG_WRITES | INIT.ASYNC_DIO | INIT.PARALLEL_DIROPS | INIT.MAX_PAGES;

/** Why the kernel backend cannot run here, or undefined if it may. */
export function kernelUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (mounting with fd= needs root)';
  return undefined;
}

interface Node { path: string; nlookup: number }

class Session {
  private readonly nodes = new Map<number, Node>([[ROOT_ID, { path: '/', nlookup: 1 }]]);
  private readonly ids = new Map<string, number>([['/', ROOT_ID]]);
  private nextId = ROOT_ID + 1;
  private readonly dirs = new Map<number, string[] | undefined>();
  private nextDirFh = 1;
  private readonly free: Buffer[] = [];
  private readonly scratch = Buffer.alloc(256);
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;
  private reading = 0;
  /** replies being written from the thread pool (see ASYNC_REPLY_MIN_BYTES) */
  private writing = 0;
  private draining = false;
  private quietListeners: (() => void)[] = [];
  private endListeners: (() => void)[] = [];
  private ended = false;
  private init?: { resolve: (minor: number) => void; reject: (e: Error) => void };
  minor = 0;

  constructor(private readonly fd: number, private readonly fs: FileSystem, private readonly o: MountOptions) {}

  /** Start reading (only once mounted: before, /dev/fuse says EPERM); resolves with the minor after INIT. */
  start(): Promise<number> {
    for (let i = 0; i < READERS; i++) this.readNext();
    return new Promise((resolve, reject) => { this.init = { resolve, reject }; });
  }

  private readNext(): void {
    const b = this.take();
    this.reading++;
    read(this.fd, b, 0, b.length, null, (err, n) => {
      this.reading--;
      if (err) {
        this.give(b);
        // ENODEV: unmounted or aborted; EINTR/EAGAIN: nothing this time
        if (err.code !== 'EINTR' && err.code !== 'EAGAIN') this.end(err.code === 'ENODEV' ? undefined : err);
      } else {
        this.request(b, n);
      }
      if (!this.ended && !this.draining) this.readNext();
      else this.maybeQuiet();
    });
  }

  private maybeQuiet(): void {
    if (this.reading === 0 && this.writing === 0) for (const fn of this.quietListeners.splice(0)) fn();
  }

  /** Issue no more reads; resolve true once no read or reply is outstanding (the process may exit), false after timeoutMs. */
  quiesce(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    if (this.reading === 0 && this.writing === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.quietListeners.push(() => { clearTimeout(timer); resolve(true); });
    });
  }

  onEnd(fn: () => void): void {
    if (this.ended) fn();
    else this.endListeners.push(fn);
  }

  /** Close the descriptor: the connection ends once no read holds it any more. */
  close(): void {
    this.end();
    closeSync(this.fd);
  }

  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (err) this.o.log(`/dev/fuse: ${err.message}`);
    this.init?.reject(err ?? new Error('the FUSE connection ended before INIT'));
    this.init = undefined;
    for (const fn of this.endListeners.splice(0)) fn();
  }

  private take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(REQUEST_BUFFER);
  }

  private give(b: Buffer): void {
    if (this.free.length < FREE_BUFFERS_MAX) this.free.push(b);
  }

  /** One reply: header and `len` struct bytes from scratch (written at 16), then data. */
  private reply(unique: bigint, error: number, len = 0, data?: Uint8Array): void {
    const total = SIZE.outHeader + len + (data?.length ?? 0);
    if (this.o.debug) this.o.log(`reply ${unique} error ${error} ${total} bytes`);
    encodeOutHeader(this.scratch, total, error, unique);
    const head = this.scratch.subarray(0, SIZE.outHeader + len);
    if (data !== undefined && data.length >= ASYNC_REPLY_MIN_BYTES) {
      // the scratch header is reused by the next reply: this one gets its own copy
      this.writing++;
      writev(this.fd, [Buffer.from(head), data], (e) => {
        this.writing--;
        if (e) this.replyFailed(e);
        if (this.draining || this.ended) this.maybeQuiet();
      });
      return;
    }
    try {
      writevSync(this.fd, data && data.length > 0 ? [head, data] : [head]);
    } catch (e) {
      this.replyFailed(e as NodeJS.ErrnoException);
    }
  }

  private replyFailed(e: NodeJS.ErrnoException): void {
    // ENOENT: the request was interrupted and is gone; ENODEV: the connection was aborted
    if (e.code !== 'ENOENT' && e.code !== 'ENODEV') this.o.log(`/dev/fuse reply: ${e.message}`);
  }

  private fail(unique: bigint, res: number): void {
    this.reply(unique, res);
  }

  private attr(ino: number, a: Attr): NodeAttr {
    return {
      ino, size: a.size, mode: (a.dir ? 0o040000 : 0o100000) | a.mode, nlink: a.dir ? 2 : 1,
      uid: this.uid, gid: this.gid, mtimeMs: a.mtime.getTime(),
    };
  }

  private child(parent: string, name: string): string {
    return parent === '/' ? `/${name}` : `${parent}/${name}`;
  }

  /** One request in `buf` (ours until give()). */
  private request(buf: Buffer, n: number): void {
    const h = decodeInHeader(buf);
    if (this.o.debug) this.o.log(`request ${h.unique} opcode ${h.opcode} node ${h.nodeid} ${n} bytes`);
    if (this.init) return this.handleInit(buf, h.unique, h.opcode);
    const node = this.nodes.get(h.nodeid);
    const u = h.unique;
    // requests answered without the file system, or that need `buf` no longer
    switch (h.opcode) {
      case OP.FORGET: this.forget(h.nodeid, decodeForget(buf)); return this.give(buf);
      case OP.BATCH_FORGET: for (const f of decodeBatchForget(buf)) this.forget(f.nodeid, f.nlookup); return this.give(buf);
      case OP.INTERRUPT: return this.give(buf); // every operation ends within opTimeoutMs anyway
      case OP.STATFS: this.give(buf); return this.reply(u, 0, encodeStatfsOut(this.scratch, SIZE.outHeader));
      case OP.ACCESS: case OP.FSYNCDIR: case OP.DESTROY: this.give(buf); return this.reply(u, 0);
    }
    if (!node) {
      this.give(buf);
      return this.fail(u, -E.ENOENT);
    }
    const path = node.path;
    const g = <T>(name: string, p: string, op: () => Promise<T>, ok: (v: T) => void, settled?: (ok: boolean) => void): void =>
      guarded(this.o, name, p, op, (res, v) => (res < 0 ? this.fail(u, res) : ok(v!)), settled);
    switch (h.opcode) {
      case OP.LOOKUP: {
        const p = this.child(path, decodeName(buf, n));
        this.give(buf);
        return g('lookup', p, () => this.fs.getattr(p), (a) => {
          const id = this.remember(p);
          this.reply(u, 0, encodeEntryOut(this.scratch, SIZE.outHeader, id, VALID_S, this.attr(id, a)));
        });
      }
      case OP.GETATTR:
        this.give(buf);
        return g('getattr', path, () => this.fs.getattr(path), (a) =>
          this.reply(u, 0, encodeAttrOut(this.scratch, SIZE.outHeader, VALID_S, this.attr(h.nodeid, a))));
      case OP.SETATTR: {
        const s = decodeSetattrIn(buf);
        this.give(buf);
        if (s.valid & (FATTR.MODE | FATTR.UID | FATTR.GID)) return this.fail(u, -E.EPERM);
        return g('setattr', path, async () => {
          if (s.valid & FATTR.SIZE) await this.fs.truncate(path, s.size);
          return this.fs.getattr(path);
        }, (a) => this.reply(u, 0, encodeAttrOut(this.scratch, SIZE.outHeader, VALID_S, this.attr(h.nodeid, a))));
      }
      case OP.OPEN: {
        const flags = decodeOpenFlags(buf);
        this.give(buf);
        // the file system's handlers take concurrent writes: let direct writes to one file run in parallel
        const cached = this.fs.usesPageCache?.() ?? this.o.pageCache;
        const openFlags = FOPEN.PARALLEL_DIRECT_WRITES | (cached ? 0 : FOPEN.DIRECT_IO);
        return g('open', path, () => this.fs.open(path, flags), (fh) =>
          this.reply(u, 0, encodeOpenOut(this.scratch, SIZE.outHeader, fh, openFlags)));
      }
      case OP.READ: {
        const r = decodeIoIn(buf);
        this.give(buf);
        return g('read', path, () => this.fs.read(path, r.fh, r.size, r.offset), (data) =>
          this.reply(u, 0, 0, data.length > r.size ? data.subarray(0, r.size) : data));
      }
      case OP.WRITE: {
        const w = decodeIoIn(buf);
        // the data stays in the request buffer, lent to the write until it settles
        const data = buf.subarray(WRITE_DATA_AT, WRITE_DATA_AT + w.size);
        return g('write', path, () => this.fs.write(path, w.fh, data, w.offset), (count) =>
          this.reply(u, 0, encodeWriteOut(this.scratch, SIZE.outHeader, count)), (ok) => { if (ok) this.give(buf); });
      }
      case OP.RELEASE: {
        const fh = decodeFh(buf);
        this.give(buf);
        return g('release', path, () => this.fs.release(path, fh), () => this.reply(u, 0));
      }
      case OP.FLUSH: case OP.FSYNC: {
        const fh = decodeFh(buf);
        this.give(buf);
        return g(h.opcode === OP.FLUSH ? 'flush' : 'fsync', path, () => this.fs.fsync(path, fh), () => this.reply(u, 0));
      }
      case OP.UNLINK: {
        const p = this.child(path, decodeName(buf, n));
        this.give(buf);
        return g('unlink', p, () => this.fs.unlink(p), () => this.reply(u, 0));
      }
      case OP.OPENDIR: {
        this.give(buf);
        const fh = this.nextDirFh;
        this.nextDirFh = (this.nextDirFh % 0x7fffffff) + 1;
        this.dirs.set(fh, undefined);
        return this.reply(u, 0, encodeOpenOut(this.scratch, SIZE.outHeader, fh, 0));
      }
      case OP.READDIR: {
        const r = decodeIoIn(buf);
        this.give(buf);
        return g('readdir', path, async () => {
          // the listing is taken at offset 0 and kept by the handle, so that later chunks agree with it
          let names = this.dirs.get(r.fh);
          if (!names || r.offset === 0) {
            names = ['.', '..', ...(await this.fs.readdir(path))];
            if (this.dirs.has(r.fh)) this.dirs.set(r.fh, names);
          }
          return names;
        }, (names) => this.reply(u, 0, 0, this.dirents(path, names, r.offset, r.size)));
      }
      case OP.RELEASEDIR:
        this.dirs.delete(decodeFh(buf));
        this.give(buf);
        return this.reply(u, 0);
      default:
        this.give(buf);
        return this.fail(u, -E.ENOSYS);
    }
  }

  private dirents(path: string, names: string[], from: number, size: number): Buffer {
    const out = Buffer.allocUnsafe(Math.min(size, 64 * 1024));
    let at = 0;
    for (let i = from; i < names.length; i++) {
      const name = names[i]!;
      const ino = name === '.' ? this.ids.get(path) : name === '..' ? undefined : this.ids.get(this.child(path, name));
      const len = encodeDirent(out, at, out.length, ino ?? UNKNOWN_INO, i + 1, name);
      if (len === 0) break;
      at += len;
    }
    return out.subarray(0, at);
  }

  /** A successful LOOKUP: the kernel holds one more reference to the node of `path`. */
  private remember(path: string): number {
    let id = this.ids.get(path);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(path, id);
      this.nodes.set(id, { path, nlookup: 0 });
    }
    this.nodes.get(id)!.nlookup++;
    return id;
  }

  private forget(id: number, count: number): void {
    const node = this.nodes.get(id);
    if (!node || id === ROOT_ID) return;
    node.nlookup -= count;
    if (node.nlookup > 0) return;
    this.nodes.delete(id);
    if (this.ids.get(node.path) === id) this.ids.delete(node.path);
  }

  private handleInit(buf: Buffer, unique: bigint, opcode: number): void {
    const init = this.init!;
    this.init = undefined;
    if (opcode !== OP.INIT) {
      this.give(buf);
      this.reply(unique, -E.EIO);
      return init.reject(new Error(`the kernel's first request was opcode ${opcode}, not INIT`));
    }
    const k = decodeInitIn(buf);
    this.give(buf);
    if (k.major !== 7 || k.minor < MIN_MINOR) {
      this.reply(unique, -E.EPROTO);
      return init.reject(new Error(`the kernel speaks FUSE ${k.major}.${k.minor}; 7.${MIN_MINOR} or later is needed`));
    }
    this.minor = Math.min(k.minor, OUR_MINOR);
    const len = encodeInitOut(this.scratch, SIZE.outHeader, {
      major: 7, minor: this.minor, maxReadahead: k.maxReadahead, flags: WANTED_FLAGS & k.flags,
      maxBackground: MAX_BACKGROUND, congestionThreshold: CONGESTION_THRESHOLD, maxWrite: MAX_WRITE, timeGran: 1,
      maxPages: MAX_PAGES, flags2: 0,
    });
    this.reply(unique, 0, len);
    init.resolve(this.minor);
  }
}

/** Run `mount` with the descriptor as its fd 3; resolves when it succeeded. */
function runMount(fd: number, mnt: string, o: MountOptions): Promise<void> {
  const opts = `fd=3,rootmode=40000,user_id=${process.getuid?.() ?? 0},group_id=${process.getgid?.() ?? 0},allow_other`;
  const child = spawn('mount', ['-i', '-c', '-t', 'fuse', '-o', opts, o.fsname, mnt], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
      reject(new Error(`mount did not return in ${MOUNT_TIMEOUT_MS} ms`));
    }, MOUNT_TIMEOUT_MS);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`mount refused (status ${code}): ${stderr.trim()}`));
    });
  });
}

/** Mount over /dev/fuse; throws (leaving nothing mounted) when this kernel path cannot be used. */
export async function mountKernel(mnt: string, fs: FileSystem, o: MountOptions): Promise<Backend> {
  // unmounts when told, and when sheepfs dies (end of file): a dead kernel-backend mount answers ENOTCONN until unmounted
  const helper = startUnmountHelper('read line; exec umount -l -- "$0"', mnt);
  let fd: number;
  try {
    fd = openSync('/dev/fuse', constants.O_RDWR);
  } catch (e) {
    helper.cancel();
    throw new Error(`cannot open /dev/fuse: ${(e as Error).message}`);
  }
  const session = new Session(fd, fs, o);
  try {
    await runMount(fd, mnt, o);
  } catch (e) {
    closeSync(fd);
    helper.cancel();
    throw e;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      session.start(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no INIT from the kernel in ${INIT_TIMEOUT_MS} ms`)), INIT_TIMEOUT_MS); }),
    ]);
  } catch (e) {
    // mounted but unusable: end the connection, and let the helper remove the mount
    session.close();
    helper.unmount();
    if (!(await waitUnmounted(mnt, UNDO_MOUNT_MS))) throw new Error(`${(e as Error).message}; and ${mnt} is still mounted`);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    description: `kernel FUSE 7.${session.minor} over /dev/fuse, ${MAX_WRITE >> 20} MiB requests, parallel direct writes`,
    unmount: helper.unmount,
    dismiss: helper.cancel,
    onEnd: (fn) => session.onEnd(fn),
    quiesce: () => session.quiesce(QUIESCE_MS),
  };
}
