/**
 * Our small ZooKeeper client interface, on the pure-JS `node-zookeeper-client`
 * (no native build; speaks the jute protocol of ZooKeeper 3.4-3.8).
 *
 * That library has no read timeout and no client-side session expiry: a server
 * that goes silent (a partition, a stopped host) leaves requests hanging and
 * the client believing it is connected. ZkSession adds a read watchdog:
 * - a cheap request (exists /) goes out every sessionTimeout/6 while idle;
 * - silence for sessionTimeout/3 destroys the socket, so the library fails over
 *   to the next server of the ensemble while the session is still valid there;
 * - silence for sessionTimeout*2/3 ends the session locally ("lost"): the
 *   server expires it at sessionTimeout, so whoever relies on the session (the
 *   sheep, through handlers.lost) stops before the others can take it for dead.
 * After an expiry or a local loss the session is dead for good: make a new one
 * (the library's client cannot be revived either).
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';

/** ZooKeeper error codes we act on (KeeperException.Code). */
export const ZK_ERR = {
  CONNECTION_LOSS: -4,
  OPERATION_TIMEOUT: -7,
  NO_NODE: -101,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
} as const;

/** A ZooKeeper failure, carried as the Sheepdog result CLUSTER_ERROR. */
export class ZkError extends SdError {
  constructor(readonly zkCode: number, detail: string) {
    super(SD_RES.CLUSTER_ERROR, detail);
  }
}

export type CreateMode = 'persistent' | 'ephemeral';

// ---- the library, as much of it as we use --------------------------------

interface RawException extends Error {
  getCode(): number;
}
type Watcher = (event: unknown) => void;
interface RawClient extends EventEmitter {
  connect(): void;
  close(): void;
  getSessionTimeout(): number;
  getSessionId(): Buffer;
  create(path: string, data: Buffer | undefined, mode: number, cb: (e: RawException | null, path?: string) => void): void;
  remove(path: string, version: number, cb: (e: RawException | null) => void): void;
  getData(path: string, watcher: Watcher | undefined, cb: (e: RawException | null, data?: Buffer | null) => void): void;
  setData(path: string, data: Buffer, version: number, cb: (e: RawException | null) => void): void;
  exists(path: string, watcher: Watcher | undefined, cb: (e: RawException | null, stat?: object | null) => void): void;
  getChildren(path: string, watcher: Watcher | undefined, cb: (e: RawException | null, children?: string[]) => void): void;
  /** internals: the current socket, which the watchdog destroys to fail over, and the connect timeout */
  connectionManager: { socket?: Socket; connectTimeout: number };
}
interface RawLib {
  createClient(servers: string, opts: { sessionTimeout: number; spinDelay: number; retries: number }): RawClient;
}
const lib = createRequire(import.meta.url)('node-zookeeper-client') as RawLib;
const MODE: Record<CreateMode, number> = { persistent: 0, ephemeral: 1 };

// ---------------------------------------------------------------------------

type State = 'connecting' | 'connected' | 'disconnected' | 'lost' | 'closed';

export interface ZkSessionOptions {
  /** host:port[,host:port...] */
  servers: string;
  /** the session timeout we ask for; the server may grant another */
  sessionTimeoutMs: number;
  /** where to say what happens (failover, loss) */
  log?: (level: 'info' | 'warn' | 'err', msg: string) => void;
}

/** One ZooKeeper session with a read watchdog. */
export class ZkSession {
  private readonly raw: RawClient;
  private state: State = 'connecting';
  private timeoutMs: number;
  private lastHeard = Date.now();
  private probeInFlight = false;
  private lastProbe = 0;
  private kickedSocket: Socket | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly pending = new Set<(e: Error) => void>();
  private readonly lostFns: ((reason: string) => void)[] = [];
  private connectedWaiters: (() => void)[] = [];
  private lostReason = '';

  private constructor(private readonly o: ZkSessionOptions) {
    this.timeoutMs = o.sessionTimeoutMs;
    // retries 0: we retry ourselves, knowing which requests are idempotent
    this.raw = lib.createClient(o.servers, { sessionTimeout: o.sessionTimeoutMs, spinDelay: 100, retries: 0 });
    this.raw.on('connected', () => this.onConnected());
    this.raw.on('disconnected', () => {
      if (this.state === 'connected') {
        this.state = 'disconnected';
        this.o.log?.('warn', 'ZooKeeper connection lost; trying the other servers');
      }
    });
    this.raw.on('expired', () => this.lose('the ZooKeeper session expired'));
    this.raw.on('authenticationFailed', () => this.lose('ZooKeeper authentication failed'));
  }

  /** Connect a new session; fails with CLUSTER_ERROR if no server answers within deadlineMs. */
  static async connect(o: ZkSessionOptions, deadlineMs = Math.max(10_000, o.sessionTimeoutMs)): Promise<ZkSession> {
    const s = new ZkSession(o);
    s.raw.connect();
    const ok = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), deadlineMs);
      s.connectedWaiters.push(() => { clearTimeout(t); resolve(true); });
      s.lostFns.push(() => { clearTimeout(t); resolve(false); });
    });
    if (!ok) {
      const why = s.lostReason || `no ZooKeeper server of ${o.servers} answered within ${deadlineMs} ms`;
      s.shutdown('closed');
      throw new ZkError(ZK_ERR.CONNECTION_LOSS, why);
    }
    s.lostFns.length = 0;
    s.watchdog = setInterval(() => s.watch(), Math.max(20, Math.floor(s.timeoutMs / 24)));
    s.watchdog.unref();
    return s;
  }

  /** The session timeout the server granted. */
  get sessionTimeoutMs(): number {
    return this.timeoutMs;
  }

  get sessionId(): string {
    return this.raw.getSessionId().toString('hex');
  }

  get alive(): boolean {
    return this.state !== 'lost' && this.state !== 'closed';
  }

  /**
   * True while the session is certainly still valid on the servers: we heard
   * from one less than 2/3 of the session timeout ago. Serve I/O only then.
   */
  leaseValid(): boolean {
    return this.alive && Date.now() - this.lastHeard < (this.timeoutMs * 2) / 3;
  }

  /** The local address of our connection to ZooKeeper (the interface that reaches the cluster). */
  localAddress(): string | undefined {
    const a = this.raw.connectionManager.socket?.localAddress;
    return a?.replace(/^::ffff:/, '');
  }

  /** Called once when the session is lost (expired, or silent too long). */
  onLost(fn: (reason: string) => void): void {
    if (this.state === 'lost') queueMicrotask(() => fn(this.lostReason));
    else this.lostFns.push(fn);
  }

  private onConnected(): void {
    if (!this.alive) return;
    const granted = this.raw.getSessionTimeout();
    if (granted > 0) this.timeoutMs = granted;
    // the library gives each server timeout/N to accept a connection; a silent
    // one (partitioned) would eat most of the time left before we give up
    this.raw.connectionManager.connectTimeout = Math.max(100, Math.floor(this.timeoutMs / 6));
    if (this.state === 'disconnected') this.o.log?.('info', 'ZooKeeper connection re-established, session kept');
    this.state = 'connected';
    this.heard();
    const w = this.connectedWaiters;
    this.connectedWaiters = [];
    for (const f of w) f();
  }

  private heard(): void {
    this.lastHeard = Date.now();
  }

  private watch(): void {
    if (!this.alive) return;
    const now = Date.now();
    const silent = now - this.lastHeard;
    if (silent >= (this.timeoutMs * 2) / 3) {
      this.lose(`no answer from ZooKeeper for ${silent} ms (session timeout ${this.timeoutMs} ms)`);
      return;
    }
    const sock = this.raw.connectionManager.socket;
    if (silent >= this.timeoutMs / 3 && sock && sock !== this.kickedSocket && this.state === 'connected') {
      // a silent server: hang up so the library tries the next one
      this.kickedSocket = sock;
      this.o.log?.('warn', `ZooKeeper server silent for ${silent} ms; failing over`);
      sock.destroy();
      return;
    }
    if (this.state === 'connected' && !this.probeInFlight && now - this.lastProbe >= this.timeoutMs / 6) {
      this.probeInFlight = true;
      this.lastProbe = now;
      this.raw.exists('/', undefined, (e) => {
        this.probeInFlight = false;
        if (!e || e.getCode() !== ZK_ERR.CONNECTION_LOSS) this.heard();
      });
    }
  }

  private lose(reason: string): void {
    if (!this.alive) return;
    this.lostReason = reason;
    this.o.log?.('err', `ZooKeeper session ${this.sessionId} lost: ${reason}`);
    this.shutdown('lost');
    const fns = this.lostFns.splice(0);
    for (const f of fns) f(reason);
  }

  private shutdown(state: 'lost' | 'closed'): void {
    this.state = state;
    clearInterval(this.watchdog);
    const err = new ZkError(ZK_ERR.SESSION_EXPIRED, state === 'lost' ? `ZooKeeper session lost: ${this.lostReason}` : 'ZooKeeper session closed');
    for (const reject of this.pending) reject(err);
    this.pending.clear();
    try {
      this.raw.close();
    } catch { /* already closing */ }
    // do not wait for a silent server to acknowledge the close
    this.raw.connectionManager.socket?.destroy();
  }

  /** Close the session (its ephemeral nodes go at once when a server hears it). */
  async close(): Promise<void> {
    if (!this.alive) return;
    const sock = this.raw.connectionManager.socket;
    if (this.state === 'connected' && sock) {
      // let the close request reach the server, briefly
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        sock.once('close', () => { clearTimeout(t); resolve(); });
        this.state = 'closed';
        clearInterval(this.watchdog);
        try { this.raw.close(); } catch { resolve(); }
      });
    }
    this.shutdown('closed');
  }

  /** One request; rejects with ZkError on a ZooKeeper error or when the session ends. */
  private call<T>(what: string, fn: (cb: (e: RawException | null, v?: T) => void) => void): Promise<T> {
    if (!this.alive) {
      return Promise.reject(new ZkError(ZK_ERR.SESSION_EXPIRED, `${what}: the ZooKeeper session is ${this.state}`));
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.add(reject);
      fn((e, v) => {
        if (!this.pending.delete(reject)) return; // settled by the session's end
        if (e) {
          const code = typeof e.getCode === 'function' ? e.getCode() : ZK_ERR.CONNECTION_LOSS;
          if (code !== ZK_ERR.CONNECTION_LOSS) this.heard();
          reject(new ZkError(code, `${what}: ${e.message}`));
        } else {
          this.heard();
          resolve(v as T);
        }
      });
    });
  }

  /** Wait until connected again (or a short while), before retrying after a connection loss. */
  private settle(): Promise<void> {
    if (this.state === 'connected') return new Promise((r) => setTimeout(r, 20));
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 200);
      this.connectedWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  /** Retry an idempotent request across connection losses while the session lives. */
  private async retried<T>(what: string, fn: (cb: (e: RawException | null, v?: T) => void) => void): Promise<T> {
    for (;;) {
      try {
        return await this.call(what, fn);
      } catch (e) {
        if (!(e instanceof ZkError) || e.zkCode !== ZK_ERR.CONNECTION_LOSS || !this.alive) throw e;
        await this.settle();
      }
    }
  }

  /**
   * Create a node. Not retried: after a connection loss the caller cannot know
   * whether it was made (ZkError CONNECTION_LOSS), and must look.
   */
  create(path: string, data: Buffer, mode: CreateMode): Promise<string> {
    return this.call(`create ${path}`, (cb) => this.raw.create(path, data, MODE[mode], cb));
  }

  /** Create a persistent node if it is not there yet. */
  async ensure(path: string): Promise<void> {
    for (;;) {
      try {
        await this.create(path, Buffer.alloc(0), 'persistent');
        return;
      } catch (e) {
        if (e instanceof ZkError && e.zkCode === ZK_ERR.NODE_EXISTS) return;
        if (e instanceof ZkError && e.zkCode === ZK_ERR.CONNECTION_LOSS && this.alive) {
          await this.settle();
          continue;
        }
        throw e;
      }
    }
  }

  /** Delete a node; false if it was not there. */
  async remove(path: string): Promise<boolean> {
    try {
      await this.retried<void>(`delete ${path}`, (cb) => this.raw.remove(path, -1, cb));
      return true;
    } catch (e) {
      if (e instanceof ZkError && e.zkCode === ZK_ERR.NO_NODE) return false;
      throw e;
    }
  }

  /** A node's data, or undefined if there is no such node. */
  async getData(path: string, watcher?: () => void): Promise<Buffer | undefined> {
    try {
      const d = await this.retried<Buffer | null>(`get ${path}`, (cb) => this.raw.getData(path, watcher && (() => watcher()), cb));
      return d ?? Buffer.alloc(0);
    } catch (e) {
      if (e instanceof ZkError && e.zkCode === ZK_ERR.NO_NODE) return undefined;
      throw e;
    }
  }

  async setData(path: string, data: Buffer): Promise<void> {
    await this.retried<void>(`set ${path}`, (cb) => this.raw.setData(path, data, -1, cb));
  }

  async exists(path: string, watcher?: () => void): Promise<boolean> {
    const st = await this.retried<object | null>(`exists ${path}`, (cb) => this.raw.exists(path, watcher && (() => watcher()), cb));
    return !!st;
  }

  /** Children names, or [] if the node is not there. */
  async getChildren(path: string, watcher?: () => void): Promise<string[]> {
    try {
      return await this.retried<string[]>(`children ${path}`, (cb) => this.raw.getChildren(path, watcher && (() => watcher()), cb));
    } catch (e) {
      if (e instanceof ZkError && e.zkCode === ZK_ERR.NO_NODE) return [];
      throw e;
    }
  }
}
