/**
 * dog's standard streams, with C stdio's buffering (cli.md §0.5.1):
 *  - stdout is fully buffered when it is not a terminal and leaves in 4 KiB
 *    blocks or at exit, line buffered on a terminal. Golden files record the
 *    resulting interleaving with stderr, so this matters.
 *  - stderr is unbuffered: every message line is written at once.
 *  - binary payloads (vdi read) bypass the text buffer and go straight to fd 1,
 *    asynchronously so that socket reads overlap the writes.
 * process.stdout/stdin are never touched: they would switch the descriptors to
 * non-blocking mode and cost start-up time.
 */
import { write, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

const STDIO_BLOCK = 4096;

let stdoutTTY: boolean | undefined;

/** Where output goes instead of the descriptors, when a test captures it. */
export interface Capture {
  stdout: string;
  stderr: string;
  binary: Buffer[];
}
let capture: Capture | undefined;

/** Tests: collect everything dog prints until stopCapture(). */
export function startCapture(): Capture {
  capture = { stdout: '', stderr: '', binary: [] };
  return capture;
}

export function stopCapture(): void {
  capture = undefined;
}
let pending: Buffer[] = [];
let pendingLen = 0;

export function stdoutIsTTY(): boolean {
  if (stdoutTTY === undefined) stdoutTTY = isatty(1);
  return stdoutTTY;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Write all of buf to fd synchronously; EAGAIN (a non-blocking descriptor) waits a little. */
export function writeAllSync(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleepCell, 0, 0, 1);
        continue;
      }
      if (code === 'EINTR') continue;
      throw e;
    }
  }
}

function emit(buf: Buffer): void {
  try {
    writeAllSync(1, buf);
  } catch {
    // stdout is gone (EPIPE and the like): C stdio drops the data too
  }
}

/** printf to stdout. */
export function out(text: string): void {
  if (text.length === 0) return;
  if (capture) {
    capture.stdout += text;
    return;
  }
  const b = Buffer.from(text, 'utf8');
  pending.push(b);
  pendingLen += b.length;
  if (stdoutTTY ?? stdoutIsTTY()) {
    // line buffered: everything up to the last newline goes out now
    const all = Buffer.concat(pending, pendingLen);
    const nl = all.lastIndexOf(0x0a);
    if (nl < 0) {
      pending = [all];
      return;
    }
    emit(all.subarray(0, nl + 1));
    const rest = all.subarray(nl + 1);
    pending = rest.length ? [rest] : [];
    pendingLen = rest.length;
    return;
  }
  if (pendingLen >= STDIO_BLOCK) {
    const all = Buffer.concat(pending, pendingLen);
    const cut = all.length - (all.length % STDIO_BLOCK);
    emit(all.subarray(0, cut));
    const rest = all.subarray(cut);
    pending = rest.length ? [rest] : [];
    pendingLen = rest.length;
  }
}

/** Flush the stdout buffer (at exit, or before a prompt reads a terminal). */
export function flushStdout(): void {
  if (pendingLen === 0) return;
  const all = Buffer.concat(pending, pendingLen);
  pending = [];
  pendingLen = 0;
  emit(all);
}

/** A progress line is being drawn on stderr (a terminal): messages erase it first. */
let stderrLineOpen = false;

export function setStderrLineOpen(open: boolean): void {
  stderrLineOpen = open;
}

/** One message line on stderr (sd_err / sd_info): no prefix, written at once. */
export function err(line: string): void {
  if (capture) {
    capture.stderr += line + '\n';
    return;
  }
  try {
    const erase = stderrLineOpen ? '\r\x1b[K' : '';
    writeAllSync(2, Buffer.from(erase + line + '\n', 'utf8'));
  } catch {
    // nowhere left to complain to
  }
}

/**
 * Write binary data to fd 1 without the text buffer. Resolves when all of it is
 * written; rejects with the errno error (EPIPE, ENOSPC...).
 */
export function writeBinary(buf: Buffer): Promise<void> {
  if (capture) {
    capture.binary.push(Buffer.from(buf));
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    let off = 0;
    const step = (): void => {
      if (off >= buf.length) {
        resolve();
        return;
      }
      write(1, buf, off, buf.length - off, null, (e, n) => {
        if (e) {
          if (e.code === 'EAGAIN' || e.code === 'EINTR') {
            setTimeout(step, 1);
            return;
          }
          reject(e);
          return;
        }
        off += n;
        step();
      });
    };
    step();
  });
}
