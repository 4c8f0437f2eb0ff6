import * as fsp from 'node:fs/promises';
import net from 'node:net';
import { isOperational, resultOf, SdError } from '../shared/errors.js';
import { SD_INODE_SIZE } from '../shared/oid.js';
import { SD_FLAG, SD_STATUS } from '../shared/proto/flags.js';
import { BufferPool } from '../shared/buffer-pool.js';
import { FrameReader } from '../shared/proto/frame.js';
import { SdHeader } from '../shared/proto/header.js';
import { opName, SD_PROTO_VER, SD_SHEEP_PROTO_VER } from '../shared/proto/opcodes.js';
import { resultName, SD_RES } from '../shared/proto/results.js';
import { adoptWithOnread } from './accept-onread.js';
import { listenOn } from './listen.js';
import type { ClusterOps } from './cluster-ops.js';
import { lookupOp, type OpContext } from './ops/index.js';
import { STAGE_TIMES_ON, stageNow, stageRecord } from './stage-times.js';

interface RunResult {
  hdr: SdHeader;
  data: Buffer | undefined;
  /** stage timing: when the handler was called (0 when timing is off or it never was) */
  dispatchedAt: number;
}

/** Largest request payload accepted; bigger announcements close the connection. */
export const MAX_REQUEST_PAYLOAD = Math.max(SD_INODE_SIZE, 128 * 1024 * 1024);
/**
 * Request and reply payloads of this size and more, powers of two up to the max,
 * use pooled buffers when their op allows. From 4 KiB: Node allocates every
 * buffer of 4 KiB and up as its own ArrayBuffer, external memory that drives
 * V8's collections; with fresh 128 KiB buffers a sheep's GC cost more than its
 * JavaScript on one-at-a-time writes (latency-ab: WRITE_OBJ 128 KiB, 967 µs of
 * CPU in the three sheep per request fresh, 553 µs pooled).
 */
const POOLED_PAYLOAD_MIN_BYTES = 4096;
const POOLED_PAYLOAD_MAX_BYTES = 64 * 1024 * 1024;
/** Bytes of idle pooled buffers kept per size (8 objects of 4 MiB: what one dog keeps in flight). */
const POOL_IDLE_BYTES = 32 * 1024 * 1024;
/** Idle pooled buffers kept per size at most (small sizes: 1 MiB of 4 KiB ones, two connections' worth of requests in flight). */
const POOL_IDLE_BUFFERS_MAX = 256;
/** A payload length the pools serve: a power of two from the min to the max. */
function poolableSize(len: number): boolean {
  return len >= POOLED_PAYLOAD_MIN_BYTES && len <= POOLED_PAYLOAD_MAX_BYTES && (len & (len - 1)) === 0;
}
/** Requests one connection may have in flight before we stop reading from it. */
const MAX_INFLIGHT_PER_CONN = 128;

/** Version check of every request: internal ops need 0x0a, client ops 0..2. */
function versionOk(req: SdHeader): boolean {
  if (req.opcode >= 0x80) return req.protoVer === SD_SHEEP_PROTO_VER;
  return req.protoVer <= SD_PROTO_VER;
}

/**
 * Accepts connections (TCP, the I/O address, the Unix socket), frames requests,
 * admits them (version, opcode, cluster status) and dispatches by the op table.
 * Requests of one connection run concurrently; replies go out as they finish.
 */
/** What the server is given: the op context its handlers run in, the cluster op runner, a crash. */
export interface ServerDeps extends OpContext {
  readonly clusterOps: Pick<ClusterOps, 'run'>;
  /** A bug in a handler: stop the process. */
  crash(what: string, err: unknown): void;
}

export class Server {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private inflight = 0;
  private drainWaiters: (() => void)[] = [];
  /** reused request payloads, by size (see payloadBuffer) */
  private readonly pools = new Map<number, BufferPool>();

  constructor(private readonly s: ServerDeps) {}

  async listen(): Promise<void> {
    const o = this.s.opts;
    await this.listenOn({ port: o.port, host: o.bindAddr }, `port ${o.port}`);
    if (o.ioAddr) await this.listenOn({ port: o.ioAddr.port, host: o.ioAddr.host }, `I/O address ${o.ioAddr.host}:${o.ioAddr.port}`);
    const sock = `${this.s.baseDir}/sock`;
    await fsp.rm(sock, { force: true });
    await this.listenOn({ path: sock }, sock);
  }

  private async listenOn(where: net.ListenOptions, what: string): Promise<void> {
    // paused: accept() moves the connection to a socket that reads into the frame reader's buffers
    const srv = net.createServer({ pauseOnConnect: true }, (raw) => this.accept(raw));
    await listenOn(srv, where, what);
    this.servers.push(srv);
  }

  /**
   * Stop accepting connections; existing ones finish their requests. Does not
   * wait for clients to hang up (peers keep pooled connections open): drain()
   * and closeAll() end those.
   */
  stopListening(): void {
    for (const srv of this.servers) srv.close();
    this.servers.length = 0;
  }

  /** Resolves when no request is in flight (or after timeoutMs). */
  drain(timeoutMs: number): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.drainWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  closeAll(): void {
    for (const sock of this.sockets) sock.destroy();
  }

  private accept(raw: net.Socket): void {
    let inflight = 0;
    let paused = false;
    // stage timing: when the current frame's first and last bytes arrived
    let frameStart = 0;
    let chunkAt = 0;
    // after a frame we cannot take, the rest of the stream means nothing
    let lost = false;
    const reader = new FrameReader(
      (req) => {
        if (!req.isWrite) return 0;
        if (req.dataLength > MAX_REQUEST_PAYLOAD) {
          throw new SdError(SD_RES.INVALID_PARMS, `payload of ${req.dataLength} bytes`);
        }
        return req.dataLength;
      },
      (req, payload) => {
        inflight++;
        if (inflight >= MAX_INFLIGHT_PER_CONN && !paused) {
          paused = true;
          sock.pause();
        }
        const started = frameStart;
        frameStart = chunkAt;
        void this.handle(sock, req, payload, started, chunkAt).finally(() => {
          inflight--;
          if (paused && inflight < MAX_INFLIGHT_PER_CONN / 2) {
            paused = false;
            sock.resume();
          }
        });
      },
      (req, len) => this.payloadBuffer(req, len),
    );
    const received = (feed: () => void): void => {
      if (lost) return;
      if (STAGE_TIMES_ON) {
        chunkAt = stageNow();
        if (!reader.midFrame) frameStart = chunkAt;
      }
      try {
        feed();
      } catch (e) {
        // a frame we cannot take: tell the client why, then hang up (the stream is lost)
        lost = true;
        this.s.log.warn('server', `closing connection from ${sock.remoteAddress ?? 'unix socket'}: ${(e as Error).message}`);
        const rsp = new SdHeader();
        rsp.result = resultOf(e);
        sock.end(rsp.buf);
      }
    };
    const adopted = adoptWithOnread(raw, {
      buffer: () => reader.readTarget(),
      callback: (n, buf) => {
        received(() => reader.filled(n, buf as Buffer));
        return true;
      },
    });
    const sock = adopted ?? raw;
    if (!adopted) {
      sock.on('data', (chunk: Buffer) => received(() => reader.push(chunk)));
      sock.resume();
    }
    sock.setNoDelay(true);
    this.sockets.add(sock);
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.sockets.delete(sock));
  }

  private async handle(sock: net.Socket, req: SdHeader, payload: Buffer | undefined, frameStart = 0, frameEnd = 0): Promise<void> {
    const tParsed = stageNow();
    this.inflight++;
    const into = this.replyBuffer(req);
    const out = await this.run(req, payload, into);
    if (payload) this.recycle(req, payload, out);
    // the reply buffer is free once the reply is written (or cannot be)
    const replied = into === undefined ? undefined : () => this.giveBack(into, out);
    if (!out) {
      // a sheep that is going down over a broken invariant answers nothing
      replied?.();
    } else if (STAGE_TIMES_ON) {
      const op = opName(req.opcode);
      const tDone = stageNow();
      stageRecord(`${op} 1 socket read`, frameEnd - frameStart);
      stageRecord(`${op} 2 parse`, tParsed - frameEnd);
      if (out.dispatchedAt) {
        stageRecord(`${op} 3 dispatch`, out.dispatchedAt - tParsed);
        stageRecord(`${op} 4 handler`, tDone - out.dispatchedAt);
      }
      const sent = this.reply(sock, req, out.hdr, out.data, () => {
        const t = stageNow();
        stageRecord(`${op} 5 reply written`, t - tDone);
        stageRecord(`${op} 6 total`, t - frameStart);
        replied?.();
      });
      if (!sent) replied?.();
    } else if (!this.reply(sock, req, out.hdr, out.data, replied)) {
      replied?.();
    }
    this.finished();
  }

  /**
   * One request as if a client had sent it (admitted, dispatched, counted,
   * waited for by drain()); the reply header and payload come back. The NBD
   * export runs its object I/O here.
   */
  async execute(req: SdHeader, payload: Buffer | undefined): Promise<{ hdr: SdHeader; data: Buffer | undefined }> {
    this.inflight++;
    try {
      const out = await this.run(req, payload);
      if (!out) throw new SdError(SD_RES.EIO, 'the sheep is stopping over a broken invariant');
      return out;
    } finally {
      this.finished();
    }
  }

  private finished(): void {
    if (--this.inflight === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /**
   * Admit, dispatch and count one request. Undefined when it tripped a broken
   * invariant: the sheep is then going down and answers nothing.
   */
  private async run(req: SdHeader, payload: Buffer | undefined, into?: Buffer): Promise<RunResult | undefined> {
    const rsp = SdHeader.responseTo(req, SD_RES.SUCCESS, this.s.group.epoch);
    const def = lookupOp(req.opcode);
    const kind = def?.kind ?? 'none';
    let data: Buffer | undefined;
    let broken = false;
    let dispatchedAt = 0;
    const started = this.s.stats.begin(kind, req.opcode, payload?.length ?? 0);
    try {
      if (!versionOk(req)) throw new SdError(SD_RES.VER_MISMATCH);
      if (!def) throw new SdError(SD_RES.INVALID_PARMS, `opcode 0x${req.opcode.toString(16)}`);
      this.admit(def.force === true);
      dispatchedAt = stageNow();
      if (def.kind === 'cluster') data = await this.s.clusterOps.run(def, req, payload, rsp);
      else data = (await def.handle(this.s, req, payload, rsp, into)) ?? undefined;
    } catch (e) {
      if (!isOperational(e)) {
        // a broken invariant: this sheep's state is in doubt, so it stops (and
        // recovers when restarted) instead of answering and serving on
        broken = true;
        this.s.crash(`${opName(req.opcode)} failed`, e);
      }
      rsp.result = resultOf(e);
      data = undefined;
      if (e instanceof SdError) this.s.log.debug('server', `${opName(req.opcode)}: ${resultName(rsp.result)} ${e.message}`);
      else this.s.log.warn('server', `${opName(req.opcode)}: ${resultName(rsp.result)} ${(e as Error).message}`);
    } finally {
      this.s.stats.end(kind, data?.length ?? 0, started);
    }
    return broken ? undefined : { hdr: rsp, data, dispatchedAt };
  }

  /**
   * Where a large request payload is assembled: a pooled buffer when the op's
   * handler leaves it free once it settles (DirectOpDef.payloadFreeAfter),
   * else a fresh one.
   */
  private payloadBuffer(req: SdHeader, len: number): Buffer {
    return this.mayPool(req, len) ? this.pool(len).take() : Buffer.allocUnsafe(len);
  }

  private mayPool(req: SdHeader, len: number): boolean {
    if (!poolableSize(len)) return false;
    const def = lookupOp(req.opcode);
    if (!def || def.kind === 'cluster' || !def.payloadFreeAfter || !versionOk(req)) return false;
    return def.payloadFreeAfter(this.s, req);
  }

  /**
   * The request's handler settled: a pooled payload goes back
   * to its pool, if the op still says its handler kept nothing of it (asked
   * again: the VDI table may have changed meanwhile) and the reply does not
   * carry it. Otherwise the pool forgets it and the GC takes it as usual.
   */
  private recycle(req: SdHeader, payload: Buffer, out: RunResult | undefined): void {
    const pool = this.pools.get(payload.length);
    if (!pool || !pool.lends(payload)) return;
    // (no result: a broken invariant stopped the handler midway; nothing is sure then)
    if (out && out.data?.buffer !== payload.buffer && this.mayPool(req, payload.length)) pool.give(payload);
    else pool.forget(payload);
  }

  /** A pooled buffer for the reply payload of an op that reads into one (DirectOpDef.replyInto). */
  private replyBuffer(req: SdHeader): Buffer | undefined {
    const len = req.dataLength;
    if (req.isWrite || !poolableSize(len)) return undefined;
    const def = lookupOp(req.opcode);
    if (!def || def.kind === 'cluster' || def.replyInto !== true || !versionOk(req)) return undefined;
    return this.pool(len).take();
  }

  /** The reply that may carry `into` is written: the buffer is free (unless a broken invariant stopped the handler). */
  private giveBack(into: Buffer, out: RunResult | undefined): void {
    const pool = this.pool(into.length);
    if (out) pool.give(into);
    else pool.forget(into);
  }

  private pool(len: number): BufferPool {
    let pool = this.pools.get(len);
    if (!pool) this.pools.set(len, pool = new BufferPool(len, Math.max(1, Math.min(POOL_IDLE_BUFFERS_MAX, Math.floor(POOL_IDLE_BYTES / len)))));
    return pool;
  }

  /** The status gate: what may run while the cluster is not serving. */
  private admit(force: boolean): void {
    const g = this.s.group;
    if (g.status === SD_STATUS.KILLED) throw new SdError(SD_RES.KILLED);
    if (g.status === SD_STATUS.SHUTDOWN) throw new SdError(SD_RES.SHUTDOWN);
    if (force) return;
    // a member that may already have been dropped (its coordination session is
    // in doubt) must not serve: the others may have moved on without it
    if (this.s.driver?.canServe && !this.s.driver.canServe()) throw new SdError(SD_RES.CLUSTER_ERROR);
    if (g.status !== SD_STATUS.OK || !g.joined) {
      throw new SdError(g.formatted ? SD_RES.WAIT_FOR_JOIN : SD_RES.WAIT_FOR_FORMAT);
    }
  }

  /** Write the reply; false when the socket is gone (then `written` is never called). */
  private reply(sock: net.Socket, req: SdHeader, rsp: SdHeader, data: Buffer | undefined, written?: () => void): boolean {
    if (sock.destroyed) return false;
    const noPayload = req.isWrite && (req.flags & SD_FLAG.CMD_PIGGYBACK) === 0;
    const len = noPayload || !data ? 0 : Math.min(data.length, req.dataLength);
    rsp.dataLength = len;
    // the epoch when the answer leaves, not when the request came in (format, joins)
    rsp.epoch = this.s.group.epoch;
    sock.cork();
    sock.write(rsp.buf, len > 0 ? undefined : written);
    if (len > 0) sock.write(len === data!.length ? data! : data!.subarray(0, len), written);
    sock.uncork();
    return true;
  }
}
