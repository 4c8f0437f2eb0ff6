import net from 'node:net';
import { SdError } from './errors.js';
import { FrameReader } from './proto/frame.js';
import { SdHeader } from './proto/header.js';
import { SD_RES } from './proto/results.js';

export type Target = { host: string; port: number } | { path: string };

export interface Reply {
  hdr: SdHeader;
  /** the reply payload (empty when none) */
  data: Buffer;
}

const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ECONNRESET: 'Connection reset by peer',
  ENOENT: 'No such file or directory',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EPIPE: 'Broken pipe',
};

/** strerror() text of a Node system error, as C tools print it. */
export function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code && STRERROR[code]) || (err as Error)?.message || String(err);
}

export function targetString(t: Target): string {
  return 'path' in t ? t.path : `${t.host}:${t.port}`;
}

/** A connection could not be made: carries the strerror text dog prints. */
export class ConnectError extends SdError {
  constructor(readonly target: Target, readonly reason: string) {
    super(SD_RES.NETWORK_ERROR, `failed to connect to ${targetString(target)}: ${reason}`);
  }
}

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** the request's payload is not all handed to the kernel yet */
  writing: boolean;
  /** the reply, when it came while the payload was still being written */
  reply?: Reply;
  /** the caller's buffer for the reply payload (see request) */
  into?: Buffer;
}

export const CONNECT_TIMEOUT_MS = 5000;

/**
 * One socket to a sheep with any number of requests in flight, replies matched
 * by request id. Used by dog, sheepfs and sheep-to-sheep traffic alike.
 */
export class SheepConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader: FrameReader;
  private failure: Error | null = null;
  private readonly closeListeners: (() => void)[] = [];

  private constructor(private readonly socket: net.Socket, readonly target: Target, reader: FrameReader) {
    this.reader = reader;
    reader.onFrame = (h, p) => this.onReply(h, p);
    socket.on('error', (err) => this.fail(new SdError(SD_RES.NETWORK_ERROR, strerror(err))));
    socket.on('close', () => this.fail(new SdError(SD_RES.NETWORK_ERROR, 'connection closed')));
  }

  static connect(target: Target, timeoutMs = CONNECT_TIMEOUT_MS): Promise<SheepConnection> {
    return new Promise((resolve, reject) => {
      // replies are read by the frame reader itself (see FrameReader.readTarget);
      // a frame before the connection object exists would be a broken peer
      let conn: SheepConnection | undefined;
      const reader = new FrameReader((h) => h.dataLength, (h) => {
        throw new Error(`reply ${h.id} before the connection was made`);
      }, (h, len) => conn?.replyBuffer(h, len) ?? Buffer.allocUnsafe(len));
      const onread: net.OnReadOpts = {
        buffer: () => reader.readTarget(),
        callback: (n, buf) => {
          reader.filled(n, buf as Buffer);
          return true;
        },
      };
      const socket = 'path' in target
        ? net.createConnection({ path: target.path, onread })
        : net.createConnection({ host: target.host, port: target.port, noDelay: true, onread });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(target, 'Connection timed out'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        conn = new SheepConnection(socket, target, reader);
        resolve(conn);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ConnectError(target, strerror(err)));
      });
    });
  }

  get isClosed(): boolean {
    return this.failure !== null;
  }

  onClose(fn: () => void): void {
    if (this.failure) fn();
    else this.closeListeners.push(fn);
  }

  /**
   * Send a request (the header is copied and given a fresh id) and wait for its
   * reply. A timeout destroys the connection: the stream cannot be resynced.
   * When the promise settles the socket no longer reads the payload: a reply
   * is passed on only once the payload's write has completed, and a failure
   * destroys the socket first. So a caller may reuse the payload's buffer then
   * (the sheep's payload pool relies on it).
   *
   * `into`: a reply payload that spans socket reads and fits is read straight
   * into it (the reply's data is then a view of it). The socket writes into it
   * only until the promise settles; the caller owns it again after that.
   */
  request(req: SdHeader, payload?: Buffer, timeoutMs?: number, into?: Buffer): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const hdr = req.clone();
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    hdr.id = id;
    return new Promise<Reply>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.fail(new SdError(SD_RES.NETWORK_ERROR, `no reply from ${targetString(this.target)} in ${timeoutMs} ms`));
      }, timeoutMs);
      const p: Pending = { resolve, reject, timer, writing: payload !== undefined && payload.length > 0, into };
      this.pending.set(id, p);
      this.socket.cork();
      this.socket.write(hdr.buf);
      if (p.writing) {
        this.socket.write(payload!, (err) => {
          // an error destroys the socket, and fail() rejects the request
          if (err) return;
          p.writing = false;
          if (p.reply && this.pending.get(id) === p) {
            this.pending.delete(id);
            p.resolve(p.reply);
          }
        });
      }
      this.socket.uncork();
    });
  }

  /** Like request, but a non-success result throws SdError. */
  async call(req: SdHeader, payload?: Buffer, timeoutMs?: number): Promise<Reply> {
    const r = await this.request(req, payload, timeoutMs);
    if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result);
    return r;
  }

  /** Where the frame reader assembles a reply payload: the request's own buffer when it gave one that fits. */
  private replyBuffer(hdr: SdHeader, len: number): Buffer {
    const into = this.pending.get(hdr.id)?.into;
    return into !== undefined && len <= into.length ? into.subarray(0, len) : Buffer.allocUnsafe(len);
  }

  private onReply(hdr: SdHeader, payload: Buffer | undefined): void {
    const p = this.pending.get(hdr.id);
    if (!p) {
      this.fail(new SdError(SD_RES.NETWORK_ERROR, `reply with unknown id ${hdr.id}`));
      return;
    }
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    const reply = { hdr, data: payload ?? Buffer.alloc(0) };
    if (p.writing) {
      // the payload's write completes in a moment (see request)
      p.reply = reply;
      return;
    }
    this.pending.delete(hdr.id);
    p.resolve(reply);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.socket.destroy();
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const fn of this.closeListeners.splice(0)) fn();
  }

  close(): void {
    this.fail(new SdError(SD_RES.NETWORK_ERROR, 'connection closed by us'));
  }
}

/**
 * The reply payload as the requested range: a short reply (the server trimmed
 * zero blocks) is placed at the reply's offset with zeros around it.
 */
export function untrim(reply: Reply, length: number): Buffer {
  const data = reply.data;
  const at = Number(reply.hdr.rspObjOffset);
  if (data.length === length && at === 0) return data;
  const out = Buffer.alloc(length);
  if (at < length) data.copy(out, at, 0, Math.min(data.length, length - at));
  return out;
}

/** One live connection per peer, made on first use and dropped when it breaks. */
export class ConnectionPool {
  private readonly conns = new Map<string, Promise<SheepConnection>>();
  /** the connections of `conns` that are up, for a caller that must not wait a turn */
  private readonly open = new Map<string, SheepConnection>();

  constructor(private readonly connectTimeoutMs = CONNECT_TIMEOUT_MS) {}

  /** The live connection to target, if one is up (no promise, no turn of the event loop). */
  ready(target: Target): SheepConnection | undefined {
    const c = this.open.get(targetString(target));
    return c && !c.isClosed ? c : undefined;
  }

  get(target: Target): Promise<SheepConnection> {
    const key = targetString(target);
    const existing = this.conns.get(key);
    if (existing) return existing;
    const p = SheepConnection.connect(target, this.connectTimeoutMs).then(
      (c) => {
        c.onClose(() => {
          if (this.conns.get(key) === p) this.conns.delete(key);
          if (this.open.get(key) === c) this.open.delete(key);
        });
        if (this.conns.get(key) === p && !c.isClosed) this.open.set(key, c);
        return c;
      },
      (err) => {
        this.conns.delete(key);
        throw err;
      },
    );
    this.conns.set(key, p);
    return p;
  }

  /** Drop (and close) the connection to one peer. */
  drop(target: Target): void {
    const key = targetString(target);
    const p = this.conns.get(key);
    this.conns.delete(key);
    this.open.delete(key);
    p?.then((c) => c.close(), () => {});
  }

  closeAll(): void {
    for (const p of this.conns.values()) p.then((c) => c.close(), () => {});
    this.conns.clear();
    this.open.clear();
  }
}
