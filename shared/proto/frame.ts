import { HEADER_SIZE, SdHeader } from './header.js';

/**
 * Splits a byte stream into 48-byte headers and their payloads. The payload
 * length of each frame is decided by the caller from the header (a server reads
 * a payload only for WRITE requests; a client reads what the reply announces).
 * A payload contained in one chunk is a view of it; a larger one is copied once
 * into a buffer of its exact size.
 */
export class FrameReader {
  private hdrBuf = Buffer.allocUnsafe(HEADER_SIZE);
  private hdrHave = 0;
  private hdr: SdHeader | null = null;
  private payload: Buffer | null = null;
  private payloadHave = 0;

  constructor(
    private readonly payloadLength: (hdr: SdHeader) => number,
    private readonly onFrame: (hdr: SdHeader, payload: Buffer | undefined) => void,
  ) {}

  /** Bytes of the current frame still missing (0 between frames). */
  get midFrame(): boolean {
    return this.hdrHave > 0 || this.hdr !== null;
  }

  push(chunk: Buffer): void {
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
          this.onFrame(hdr, view);
          continue;
        }
        this.hdr = hdr;
        this.payload = Buffer.allocUnsafe(len);
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
