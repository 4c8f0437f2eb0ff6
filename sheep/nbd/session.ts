/**
 * One NBD connection: the fixed newstyle handshake and its options, then the
 * transmission phase with many requests in flight (replies go out as they
 * finish, matched by the client's cookie).
 */
import type { Socket } from 'node:net';
import { SdError } from '../../shared/errors.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { vidToVdiOid } from '../../shared/oid.js';
import type { VdiVolume } from '../../shared/vdi-volume.js';
import type { Logger } from '../log.js';
import type { ExportHandle, ExportTarget, NbdExports } from './exports.js';
import {
  decodeInfoRequest, decodeOptionHeader, decodeRequest, doneChunk, errorChunk, exportNameReply, greeting,
  infoBlockSize, infoExport, infoName, NBD_CMD, NBD_CMD_FLAG, NBD_E, NBD_FLAG, NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES, NBD_INFO, NBD_OPT, NBD_OPTS_MAGIC, NBD_REP, NBD_REP_ERR, NBD_REQUEST_MAGIC, offsetDataHeader,
  OPTION_HEADER_SIZE, optionReply, REQUEST_SIZE, serverEntry, simpleReply, type NbdRequest,
} from './proto.js';
import { ExactReader, StreamClosed } from './stream.js';

/** Largest option payload taken (names are at most 4096 bytes); bigger ones end the connection. */
const OPTION_MAX_BYTES = 64 * 1024;
/** Largest read or write one request may ask for (the block size maximum we advertise). */
export const REQUEST_MAX_BYTES = 32 * 1024 * 1024;
/** Requests of one connection in flight before we stop reading more. */
const INFLIGHT_MAX = 64;
/** Reply bytes queued on the socket beyond which no more requests are read (a client that does not read). */
const UNSENT_MAX_BYTES = 64 * 1024 * 1024;
/** Zeros written per request when a "write zeroes" must allocate (NO_HOLE). */
const ZERO_CHUNK_BYTES = 4 * 1024 * 1024;

/** The errno an NBD reply carries for a Sheepdog result. */
export function nbdErrno(result: number): number {
  switch (result) {
    case SD_RES.READONLY: return NBD_E.EPERM;
    case SD_RES.NO_SPACE: return NBD_E.ENOSPC;
    case SD_RES.INVALID_PARMS: return NBD_E.EINVAL;
    case SD_RES.NO_MEM: return NBD_E.ENOMEM;
    case SD_RES.SHUTDOWN: case SD_RES.KILLED: return NBD_E.ESHUTDOWN;
    default: return NBD_E.EIO;
  }
}

class NbdFailure extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
  }
}

export interface SessionContext {
  exports: NbdExports;
  log: Logger;
  /** FLUSH_VDI after writes are acknowledged (the sheep's object cache holds them) */
  flushCache: ((vid: number) => Promise<void>) | undefined;
}

export class NbdSession {
  private readonly reader: ExactReader;
  private structured = false;
  private noZeroes = false;
  private handle: ExportHandle | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly who: string;

  constructor(private readonly sock: Socket, private readonly ctx: SessionContext) {
    this.reader = new ExactReader(sock);
    this.who = sock.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : 'unix socket';
    sock.setNoDelay(true);
    sock.on('error', () => sock.destroy());
  }

  /** Serve until the client leaves; always releases what it attached. */
  async run(): Promise<void> {
    try {
      if (await this.handshake()) await this.transmit();
    } catch (e) {
      if (!(e instanceof StreamClosed)) {
        if (!(e instanceof SdError || e instanceof ProtocolError)) throw e;
        this.ctx.log.warn('nbd', `${this.who}: ${(e as Error).message}`);
      }
    } finally {
      await Promise.allSettled([...this.inflight]);
      this.sock.destroy();
      if (this.handle) await this.ctx.exports.detach(this.handle);
    }
  }

  private send(...bufs: Buffer[]): void {
    if (this.sock.destroyed) return;
    this.sock.cork();
    for (const b of bufs) this.sock.write(b);
    this.sock.uncork();
  }

  // ---- handshake ----

  /** Options until the client chose an export (true) or left (false). */
  private async handshake(): Promise<boolean> {
    this.send(greeting());
    const clientFlags = (await this.reader.read(4)).readUInt32BE(0);
    if ((clientFlags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) !== 0) {
      throw new ProtocolError(`unknown client flags 0x${clientFlags.toString(16)}`);
    }
    this.noZeroes = (clientFlags & NBD_FLAG_C_NO_ZEROES) !== 0;
    for (;;) {
      const h = decodeOptionHeader(await this.reader.read(OPTION_HEADER_SIZE));
      if (h.magic !== NBD_OPTS_MAGIC) throw new ProtocolError('bad option magic');
      if (h.length > OPTION_MAX_BYTES) throw new ProtocolError(`option of ${h.length} bytes`);
      const data = await this.reader.read(h.length);
      switch (h.option) {
        case NBD_OPT.EXPORT_NAME: {
          // no way to report an error here but hanging up
          const name = data.toString('utf8');
          const t = await this.ctx.exports.resolve(name);
          this.handle = await this.ctx.exports.attach(t);
          this.send(exportNameReply(BigInt(this.handle.volume.size), this.transmissionFlags(t), this.noZeroes));
          return true;
        }
        case NBD_OPT.ABORT:
          this.send(optionReply(h.option, NBD_REP.ACK));
          this.sock.end();
          return false;
        case NBD_OPT.LIST:
          if (data.length !== 0) {
            this.send(optionReply(h.option, NBD_REP_ERR.INVALID));
            break;
          }
          for (const name of await this.ctx.exports.list()) this.send(optionReply(h.option, NBD_REP.SERVER, serverEntry(name)));
          this.send(optionReply(h.option, NBD_REP.ACK));
          break;
        case NBD_OPT.STRUCTURED_REPLY:
          if (data.length !== 0) {
            this.send(optionReply(h.option, NBD_REP_ERR.INVALID));
            break;
          }
          this.structured = true;
          this.send(optionReply(h.option, NBD_REP.ACK));
          break;
        case NBD_OPT.INFO:
        case NBD_OPT.GO:
          if (await this.infoOrGo(h.option, data)) return true;
          break;
        default:
          this.send(optionReply(h.option, NBD_REP_ERR.UNSUP));
      }
    }
  }

  private transmissionFlags(t: ExportTarget): number {
    // CAN_MULTI_CONN: every connection to a VDI on this sheep shares one volume
    // (index, creations) and a write is acknowledged only once every copy has
    // it, so a flush on any connection covers the writes completed on all
    let f = NBD_FLAG.HAS_FLAGS | NBD_FLAG.SEND_FLUSH | NBD_FLAG.CAN_MULTI_CONN;
    if (t.readOnly) f |= NBD_FLAG.READ_ONLY;
    else f |= NBD_FLAG.SEND_FUA | NBD_FLAG.SEND_TRIM | NBD_FLAG.SEND_WRITE_ZEROES;
    if (this.structured) f |= NBD_FLAG.SEND_DF; // every read is answered in one chunk
    return f;
  }

  /** NBD_OPT_INFO / NBD_OPT_GO: true when GO succeeded and transmission starts. */
  private async infoOrGo(option: number, data: Buffer): Promise<boolean> {
    const req = decodeInfoRequest(data);
    if (!req) {
      this.send(optionReply(option, NBD_REP_ERR.INVALID));
      return false;
    }
    let t: ExportTarget;
    let vol: VdiVolume;
    try {
      t = await this.ctx.exports.resolve(req.name);
      if (option === NBD_OPT.GO) {
        this.handle = await this.ctx.exports.attach(t);
        vol = this.handle.volume;
      } else {
        vol = await this.ctx.exports.describe(t);
      }
    } catch (e) {
      if (!(e instanceof SdError)) throw e;
      const type = e.code === SD_RES.NO_VDI || e.code === SD_RES.NO_TAG ? NBD_REP_ERR.UNKNOWN
        : e.code === SD_RES.VDI_LOCKED ? NBD_REP_ERR.POLICY : NBD_REP_ERR.PLATFORM;
      this.send(optionReply(option, type, Buffer.from(`${req.name}: ${resultText(e.code)}`)));
      return false;
    }
    this.send(optionReply(option, NBD_REP.INFO, infoExport(BigInt(vol.size), this.transmissionFlags(t))));
    if (req.requests.includes(NBD_INFO.NAME)) this.send(optionReply(option, NBD_REP.INFO, infoName(req.name)));
    if (req.requests.includes(NBD_INFO.BLOCK_SIZE)) {
      this.send(optionReply(option, NBD_REP.INFO, infoBlockSize(1, 4096, REQUEST_MAX_BYTES)));
    }
    this.send(optionReply(option, NBD_REP.ACK));
    return option === NBD_OPT.GO;
  }

  // ---- transmission ----

  private async transmit(): Promise<void> {
    for (;;) {
      while (this.inflight.size >= INFLIGHT_MAX) await Promise.race(this.inflight);
      if (this.sock.writableLength > UNSENT_MAX_BYTES) await this.drained();
      const req = decodeRequest(await this.reader.read(REQUEST_SIZE));
      if (req.magic !== NBD_REQUEST_MAGIC) throw new ProtocolError('bad request magic');
      let payload: Buffer | undefined;
      if (req.type === NBD_CMD.WRITE) {
        if (req.length > REQUEST_MAX_BYTES) throw new ProtocolError(`write of ${req.length} bytes`);
        payload = await this.reader.read(req.length);
      }
      if (req.type === NBD_CMD.DISC) {
        await Promise.allSettled([...this.inflight]);
        await this.flush();
        return;
      }
      const p = this.serve(req, payload);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  /** Resolves when the socket took its queued replies, or closed. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve();
      const done = (): void => {
        this.sock.off('drain', done);
        this.sock.off('close', done);
        resolve();
      };
      this.sock.on('drain', done);
      this.sock.on('close', done);
    });
  }

  private async serve(req: NbdRequest, payload: Buffer | undefined): Promise<void> {
    let data: Buffer | undefined;
    try {
      data = await this.execute(req, payload);
    } catch (e) {
      let errno: number;
      if (e instanceof NbdFailure) errno = e.errno;
      else if (e instanceof SdError) errno = nbdErrno(e.code);
      else throw e;
      this.ctx.log.debug('nbd', `${this.who}: command ${req.type} at ${req.offset}+${req.length}: ${(e as Error).message}`);
      if (this.structured) this.send(errorChunk(req.cookie, errno, (e as Error).message));
      else this.send(simpleReply(req.cookie, errno));
      return;
    }
    if (!this.structured) {
      if (data) this.send(simpleReply(req.cookie, 0), data);
      else this.send(simpleReply(req.cookie, 0));
    } else if (data) {
      this.send(offsetDataHeader(req.cookie, req.offset, data.length, true), data);
    } else {
      this.send(doneChunk(req.cookie));
    }
  }

  private async execute(req: NbdRequest, payload: Buffer | undefined): Promise<Buffer | undefined> {
    const h = this.handle!;
    // the gateway refuses data writes to a snapshot but not inode writes
    // (a discard's), so a snapshot taken meanwhile is noticed before writing
    const modifies = req.type === NBD_CMD.WRITE || req.type === NBD_CMD.TRIM || req.type === NBD_CMD.WRITE_ZEROES;
    if (modifies && this.ctx.exports.superseded(h)) await h.vdi.reload();
    // a snapshot taken since is noticed by the refused write: carry on at the new working vid
    return h.vdi.io((vol) => this.executeOn(vol, req, payload));
  }

  private async executeOn(vol: VdiVolume, req: NbdRequest, payload: Buffer | undefined): Promise<Buffer | undefined> {
    const known = NBD_CMD_FLAG.FUA | NBD_CMD_FLAG.NO_HOLE | NBD_CMD_FLAG.DF;
    if ((req.flags & ~known) !== 0) throw new NbdFailure(NBD_E.EINVAL, `unsupported flags 0x${req.flags.toString(16)}`);
    const writing = req.type === NBD_CMD.WRITE || req.type === NBD_CMD.TRIM || req.type === NBD_CMD.WRITE_ZEROES;
    if (writing && vol.readOnly) throw new NbdFailure(NBD_E.EPERM, 'the export is read-only (a snapshot)');
    const end = req.offset + BigInt(req.length);
    if (req.type !== NBD_CMD.FLUSH && end > BigInt(vol.size)) {
      // writes past the end are "no space", everything else a bad request
      const errno = req.type === NBD_CMD.WRITE || req.type === NBD_CMD.WRITE_ZEROES ? NBD_E.ENOSPC : NBD_E.EINVAL;
      throw new NbdFailure(errno, `${req.offset}+${req.length} is beyond the end (${vol.size})`);
    }
    const pos = Number(req.offset);
    const fua = (req.flags & NBD_CMD_FLAG.FUA) !== 0;
    switch (req.type) {
      case NBD_CMD.READ:
        if (req.length > REQUEST_MAX_BYTES) throw new NbdFailure(NBD_E.EINVAL, `read of ${req.length} bytes`);
        return vol.read(req.length, pos);
      case NBD_CMD.WRITE:
        await vol.write(payload!, pos);
        if (fua) await this.flushCache();
        return undefined;
      case NBD_CMD.FLUSH:
        await this.flush();
        return undefined;
      case NBD_CMD.TRIM:
        await vol.discard(req.length, pos, false);
        if (fua) await this.flushCache();
        return undefined;
      case NBD_CMD.WRITE_ZEROES:
        if ((req.flags & NBD_CMD_FLAG.NO_HOLE) !== 0) await writeZeros(vol, req.length, pos);
        else await vol.discard(req.length, pos, true);
        if (fua) await this.flushCache();
        return undefined;
      default:
        throw new NbdFailure(NBD_E.EINVAL, `unsupported command ${req.type}`);
    }
  }

  /** Acknowledged writes are on every copy already; only the object cache may hold some back. */
  private async flushCache(): Promise<void> {
    if (this.ctx.flushCache && this.handle) await this.ctx.flushCache(this.handle.volume.vid);
  }

  private async flush(): Promise<void> {
    if (!this.handle) return;
    await this.handle.volume.flush();
    await this.flushCache();
  }
}

/** NO_HOLE: the range must stay allocated, so zeros are written. */
async function writeZeros(vol: VdiVolume, len: number, pos: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(len, ZERO_CHUNK_BYTES));
  for (let at = 0; at < len; at += zeros.length) {
    await vol.write(zeros.subarray(0, Math.min(zeros.length, len - at)), pos + at);
  }
}

/** The client broke the protocol: the connection ends. */
export class ProtocolError extends Error {}

/** FLUSH_VDI through the exports' gateway (sheep -w). */
export function cacheFlusher(exports: NbdExports): (vid: number) => Promise<void> {
  return async (vid) => {
    const h = SdHeader.request(SD_OP.FLUSH_VDI);
    h.objOid = vidToVdiOid(vid);
    const r = await exports.gateway.request(h);
    if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, 'flushing the object cache');
  };
}
