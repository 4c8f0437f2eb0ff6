import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Logger } from '../log.js';

/** O_DIRECT needs file offsets, lengths and memory aligned to the logical block size. */
export const DIO_ALIGN = 512;
/** Size of one pooled aligned slab: a whole data object of the default 4 MiB. */
const SLAB_BYTES = 4 * 1024 * 1024;
/** Slabs kept for reuse; more concurrent direct I/Os allocate (and probe) their own. */
const SLAB_POOL_MAX = 16;
const PROBE_FILE = '.dio_probe';
const PROBE_BYTES = 4096;

/**
 * Memory for O_DIRECT. JavaScript cannot ask where a buffer lives, so each slab
 * is over-allocated by one page and the aligned offset inside it is found by
 * probing: an O_DIRECT read into misaligned memory fails with EINVAL. A slab is
 * probed once and then reused from a pool.
 */
export class AlignedBuffers {
  private readonly pool: Buffer[] = [];

  private constructor(private readonly probe: fsp.FileHandle) {}

  /**
   * Open the probe file in `dir`; undefined when the file system refuses
   * O_DIRECT (tmpfs), in which case the caller stays with buffered I/O.
   */
  static async open(dir: string, log: Logger): Promise<AlignedBuffers | undefined> {
    const path = join(dir, PROBE_FILE);
    // synced, so that its blocks are allocated: ext4 serves O_DIRECT on unallocated
    // (delayed-allocation) blocks through the page cache, which would accept any memory
    const w = await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    await w.write(Buffer.alloc(PROBE_BYTES), 0, PROBE_BYTES, 0);
    await w.sync();
    await w.close();
    try {
      const fh = await fsp.open(path, constants.O_RDONLY | constants.O_DIRECT);
      const ab = new AlignedBuffers(fh);
      ab.pool.push(await ab.slab(SLAB_BYTES));
      return ab;
    } catch (e) {
      log.warn('store', `${dir}: no direct I/O here (${(e as Error).message}); using buffered I/O`);
      return undefined;
    }
  }

  /** A buffer of `length` bytes (a multiple of DIO_ALIGN) whose memory is aligned. */
  private async slab(length: number): Promise<Buffer> {
    const raw = Buffer.allocUnsafeSlow(length + 4096);
    for (let off = 0; off < 4096; off += 16) {
      try {
        await this.probe.read(raw, off, PROBE_BYTES, 0);
        return raw.subarray(off, off + length);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      }
    }
    throw new Error('no O_DIRECT-aligned offset found in a fresh buffer');
  }

  private async take(length: number): Promise<Buffer> {
    if (length <= SLAB_BYTES) {
      const b = this.pool.pop();
      if (b) return b;
      return this.slab(SLAB_BYTES);
    }
    return this.slab(length);
  }

  private give(b: Buffer): void {
    if (b.length === SLAB_BYTES && this.pool.length < SLAB_POOL_MAX) this.pool.push(b);
  }

  /** pread through O_DIRECT; bytes past the end of the file read as zeros. */
  async read(fh: fsp.FileHandle, offset: number, length: number): Promise<Buffer> {
    const b = await this.take(length);
    try {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(b, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      const out = Buffer.allocUnsafe(length);
      b.copy(out, 0, 0, done);
      if (done < length) out.fill(0, done);
      return out;
    } finally {
      this.give(b);
    }
  }

  /** pwrite through O_DIRECT (offset and length are DIO_ALIGN multiples). */
  async write(fh: fsp.FileHandle, data: Buffer, offset: number): Promise<void> {
    if (data.length === 0) return;
    const b = await this.take(data.length);
    try {
      data.copy(b, 0);
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(b, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw code === 'ENOSPC' || code === 'EDQUOT' ? new SdError(SD_RES.NO_SPACE, (e as Error).message) : e;
    } finally {
      this.give(b);
    }
  }

  async close(): Promise<void> {
    await this.probe.close().catch(() => {});
  }
}
