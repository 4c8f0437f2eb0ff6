import { assert } from '../errors.js';
import { HEADER_SIZE, SdHeader } from './header.js';

/** Size of the buffer reused for socket reads between large payloads (net's default read size). */
export const READ_SCRATCH_BYTES = 64 * 1024;
/**
 * A payload with at least this much still to come is read by the socket straight
 * into the payload buffer; less goes through the scratch buffer (one more copy,
 * but reads that may also hold the next frames' headers).
 */
export const DIRECT_READ_MIN_BYTES = 16 * 1024;

/**
 * Splits a byte stream into 48-byte headers and their payloads. The payload
 * length of each frame is decided by the caller from the header (a server reads
 * a payload only for WRITE requests; a client reads what the reply announces).
 *
 * Two ways to feed it:
 * - `push(chunk)` with chunks a stream handed over: a payload contained in one
 *   chunk is a view of it; a larger one is copied once into a buffer of its
 *   exact size;
 * - net's `onread` (`readTarget()` / `filled()`): the socket reads into a reused
 *   scratch buffer, or, for the rest of a large payload, straight into the
 *   payload's own buffer. No 64 KiB chunk is allocated per read and a large
 *   payload (a 1 MiB READ reply) is not copied again: a sheepfs read of 1 MiB
 *   spent ~3% of its CPU in that copy and more in collecting the chunks.
 */
export class FrameReader {
  private hdrBuf = Buffer.allocUnsafe(HEADER_SIZE);
  private hdrHave = 0;
  private hdr: SdHeader | null = null;
  private payload: Buffer | null = null;
  private payloadHave = 0;

  constructor(
    private readonly payloadLength: (hdr: SdHeader) => number,
    /** settable: a client's connection takes over the reader made before it (see client.ts) */
    public onFrame: (hdr: SdHeader, payload: Buffer | undefined) => void,
    /** The buffer a payload that spans socket reads is assembled in (a pool's, or a fresh one). */
    private readonly payloadBuffer: (hdr: SdHeader, len: number) => Buffer = (_hdr, len) => Buffer.allocUnsafe(len),
  ) {}

  /** Bytes of the current frame still missing (0 between frames). */
  get midFrame(): boolean {
    return this.hdrHave > 0 || this.hdr !== null;
  }

  private scratch: Buffer | null = null;
  /** the view of the payload handed out by readTarget, while the socket fills it */
  private direct: Buffer | null = null;

  /** The buffer the next socket read should fill (net's `onread.buffer` as a function). */
  readTarget(): Buffer {
    const payload = this.payload;
    if (payload !== null && payload.length - this.payloadHave >= DIRECT_READ_MIN_BYTES) {
      this.direct = payload.subarray(this.payloadHave);
      return this.direct;
    }
    this.direct = null;
    return (this.scratch ??= Buffer.allocUnsafe(READ_SCRATCH_BYTES));
  }

  /** A socket read put `n` bytes at the start of `buf`, the last buffer readTarget gave (net's `onread.callback`). */
  filled(n: number, buf: Buffer): void {
    if (buf === this.scratch) {
      // the scratch buffer is reused by the next read: payloads are copied out of it
      this.consume(buf.subarray(0, n), false);
      return;
    }
    if (buf !== this.direct || this.payload === null || n > buf.length) {
      throw new Error('FrameReader.filled: not the buffer readTarget gave');
    }
    this.direct = null;
    this.payloadHave += n;
    if (this.payloadHave < this.payload.length) return;
    const hdr = this.hdr!;
    const payload = this.payload;
    this.hdr = null;
    this.payload = null;
    this.onFrame(hdr, payload);
  }

  push(chunk: Buffer): void {
    this.consume(chunk, true);
  }

  /** `owned`: the chunk stays as it is, so a payload inside it can be a view of it. */
  private consume(chunk: Buffer, owned: boolean): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.hdr === null) {
        const take = Math.min(HEADER_SIZE - this.hdrHave, chunk.length - off);
        chunk.copy(this.hdrBuf, this.hdrHave, off, off + take);
        this.hdrHave += take;
        off += take;
        if (this.hdrHave < HEADER_SIZE) return;
        const hdr = new SdHeader(this.hdrBuf);
        this.hdrBuf = Buffer.allocUnsafe(HEADER_SIZE);
        this.hdrHave = 0;
        const len = this.payloadLength(hdr);
        if (len === 0) {
          this.onFrame(hdr, undefined);
          continue;
        }
        if (chunk.length - off >= len) {
          const view = chunk.subarray(off, off + len);
          off += len;
          this.onFrame(hdr, owned ? view : Buffer.from(view));
          continue;
        }
        this.hdr = hdr;
        this.payload = this.payloadBuffer(hdr, len);
        assert(this.payload.length === len, 'a payload buffer of the announced length');
        this.payloadHave = 0;
      } else {
        const payload = this.payload!;
        const take = Math.min(payload.length - this.payloadHave, chunk.length - off);
        chunk.copy(payload, this.payloadHave, off, off + take);
        this.payloadHave += take;
        off += take;
        if (this.payloadHave < payload.length) return;
        const hdr = this.hdr;
        this.hdr = null;
        this.payload = null;
        this.onFrame(hdr, payload);
      }
    }
  }
}
