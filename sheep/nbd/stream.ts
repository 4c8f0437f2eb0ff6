/**
 * Exact-length reads from a socket: `read(n)` resolves with the next n bytes.
 * Bytes not yet asked for are buffered up to BUFFERED_MAX_BYTES, beyond which
 * the socket is paused (a client that sends faster than we serve waits in TCP).
 */
import type { Socket } from 'node:net';

const BUFFERED_MAX_BYTES = 64 * 1024 * 1024;

export class StreamClosed extends Error {
  constructor() {
    super('connection closed');
  }
}

export class ExactReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private closed = false;
  private paused = false;

  constructor(private readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.have += c.length;
      if (this.have > BUFFERED_MAX_BYTES && !this.paused) {
        this.paused = true;
        sock.pause();
      }
      this.serve();
    });
    const close = (): void => {
      this.closed = true;
      this.serve();
    };
    sock.on('end', close);
    sock.on('close', close);
  }

  /** The next n bytes; rejects with StreamClosed when the peer hangs up first. */
  read(n: number): Promise<Buffer> {
    if (this.waiter) throw new Error('ExactReader: one read at a time');
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
      this.serve();
    });
  }

  private serve(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.have >= w.n) {
      this.waiter = undefined;
      w.resolve(this.take(w.n));
      if (this.paused && this.have <= BUFFERED_MAX_BYTES / 2) {
        this.paused = false;
        this.sock.resume();
      }
    } else if (this.closed) {
      this.waiter = undefined;
      w.reject(new StreamClosed());
    }
  }

  private take(n: number): Buffer {
    this.have -= n;
    const first = this.chunks[0];
    if (first && first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first && first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
