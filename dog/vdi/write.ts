/**
 * dog vdi write [-w] <vdiname> [<offset> [<len>]] (cli.md §2.7.16).
 *
 * stdin is read straight into object-sized buffers, one piece per object; while
 * one piece is read, up to 8 earlier ones are in flight on the connection.
 * A piece whose object is unallocated, or belongs to an ancestor, is created
 * (copy-on-write from the ancestor's object), then its index slot is pointed at
 * it; those slot writes are pipelined too, and all of them complete before
 * dog reports success. A hyper volume's entry is set in its B-tree once the
 * object is written (the tree batches the index writes of pieces in flight). A short read zero-fills the rest of its piece, which is
 * still written, and ends the write.
 */
import { decodeInodeHeader, countDataObjs, type InodeHeader } from '../../shared/inode.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SD_RES } from '../../shared/proto/results.js';
import { vidToDataOid } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { strerror } from '../errno.js';
import { EXIT } from '../exit.js';
import { readFull } from '../fdio.js';
import { writeObjectQuiet } from '../object-io.js';
import { err } from '../output.js';
import { Progress } from '../progress.js';
import type { HyperTree } from '../../shared/btree.js';
import { openHyperTree, setEntry } from './hyper-tree.js';
import { FlatIndex } from './inode-index.js';
import { readVdiObj } from './open.js';
import { parseRangeArgs, type Piece } from './range.js';
import { INODE_WITH_INDEX } from './read.js';
import { slotWriteQuiet } from './slots.js';
import { SD_INODE_HEADER_SIZE } from '../../shared/oid.js';

const MAX_IN_FLIGHT = 8;
/** Memory the piece buffers may take (they are object-sized; objects may be up to 2 GiB). */
const BUFFER_BUDGET = 64 * 1024 * 1024;

/** What to send for one piece, given the owner of its slot. */
export function planPiece(owner: number, vdiId: number, p: Piece): { create: boolean; cowOid: bigint } {
  if (owner === 0) return { create: true, cowOid: 0n };
  if (owner !== vdiId) return { create: true, cowOid: vidToDataOid(owner, p.idx) };
  return { create: false, cowOid: 0n };
}

/**
 * Fill buf[0..len) from the source; a short read is zero-filled. Returns
 * whether the source ended (no piece follows this one).
 */
export async function fillPiece(read: (buf: Buffer, len: number) => Promise<number>, buf: Buffer, len: number): Promise<boolean> {
  const n = await read(buf, len);
  if (n < len) {
    buf.fill(0, n, len);
    return true;
  }
  return false;
}

/** Number of pieces in flight for this object size. */
export function windowFor(objSize: number): number {
  return Math.max(1, Math.min(MAX_IN_FLIGHT, Math.floor(BUFFER_BUDGET / objSize)));
}

class Writer {
  private failed = false;
  private code: number = EXIT.SUCCESS;
  private readonly tasks = new Set<Promise<void>>();
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly dog: Dog,
    private readonly h: InodeHeader,
    private readonly index: FlatIndex | HyperTree,
    private readonly objSize: number,
    private readonly window: number,
    private readonly progress: Progress,
  ) {}

  get ok(): boolean {
    return !this.failed;
  }

  /** The first failure is reported; later ones (pipelined behind it) are not. */
  private fail(message: string | undefined, code: number, extra?: string): void {
    if (this.failed) return;
    this.failed = true;
    this.progress.abort();
    this.code = code;
    if (message) err(message);
    if (extra) err(extra);
  }

  async buffer(): Promise<Buffer> {
    for (;;) {
      const b = this.free.pop();
      if (b) return b;
      if (this.allocated < this.window) {
        this.allocated++;
        return Buffer.allocUnsafe(this.objSize);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private release(b: Buffer): void {
    this.free.push(b);
    this.waiters.shift()?.();
  }

  private track(p: Promise<void>): void {
    this.tasks.add(p);
    void p.finally(() => this.tasks.delete(p));
  }

  /** Send one piece (its data is in buf[0..p.len)). */
  send(p: Piece, buf: Buffer): void {
    const { h, dog } = this;
    const plan = planPiece(this.index.vidAt(p.idx), h.vdiId, p);
    const flat = this.index instanceof FlatIndex ? this.index : undefined;
    flat?.set(p.idx, h.vdiId);
    const flags = dog.opts.writeback ? SD_FLAG.CMD_CACHE : 0;
    this.track((async () => {
      const r = await writeObjectQuiet(dog, {
        oid: vidToDataOid(h.vdiId, p.idx), cowOid: plan.cowOid, data: buf.subarray(0, p.len), offset: p.offset,
        flags, copies: h.nrCopies, copyPolicy: h.copyPolicy, create: plan.create, direct: false,
      });
      this.release(buf);
      if (r.result !== SD_RES.SUCCESS) {
        this.fail(r.message, EXIT.FAILURE, 'Failed to write VDI');
        return;
      }
      this.progress.advance(p.len);
      if (!plan.create || this.failed) return;
      if (!flat) {
        const message = await setEntry(this.index as HyperTree, p.idx, h.vdiId);
        if (message !== undefined) this.fail(message, EXIT.FAILURE);
        return;
      }
      const s = await slotWriteQuiet(dog, h.vdiId, p.idx, h, { flags, direct: false });
      if (s.result !== SD_RES.SUCCESS) this.fail(s.message, EXIT.FAILURE);
    })());
  }

  stdinFailed(e: unknown): void {
    this.fail(`Failed to read from stdin: ${strerror(e)}`, EXIT.SYSFAIL);
  }

  /** Wait for every data and slot write; the exit status. */
  async finish(): Promise<number> {
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
    if (!this.failed) this.progress.end();
    return this.code;
  }
}

export function run(dog: Dog, args: string[]): Promise<number> {
  return writeFrom(dog, args, (b, n) => readFull(0, b, n));
}

/** vdi write with the data taken from `source` (stdin for the command). */
export async function writeFrom(
  dog: Dog, args: string[], source: (buf: Buffer, len: number) => Promise<number>,
): Promise<number> {
  const name = args[0]!;
  const range = parseRangeArgs(args.slice(1));
  if (!range) return EXIT.USAGE;
  const opened = await readVdiObj(dog, name, 0, '', INODE_WITH_INDEX);
  if (!opened) return EXIT.FAILURE;
  const h = decodeInodeHeader(opened.inode);
  if (h.vdiSize < range.offset) {
    err('Write offset is beyond the end of the VDI');
    return EXIT.FAILURE;
  }
  const index = h.storePolicy === 1
    ? await openHyperTree(dog, opened.vid, opened.inode, dog.opts.writeback ? SD_FLAG.CMD_CACHE : 0)
    : new FlatIndex(opened.inode, SD_INODE_HEADER_SIZE, countDataObjs(h));
  if (!index) {
    err('Failed to read VDI');
    return EXIT.FAILURE;
  }
  const objSize = 2 ** h.blockSizeShift;
  let total = Math.min(range.len, h.vdiSize - range.offset);
  const objects = Math.ceil((range.offset + total) / objSize) - Math.floor(range.offset / objSize);
  const w = new Writer(dog, h, index, objSize, windowFor(objSize), new Progress(total, objects, { label: 'write' }));
  let idx = Math.floor(range.offset / objSize);
  let off = range.offset - idx * objSize;
  let done = 0;
  while (done < total && w.ok) {
    const len = Math.min(total - done, objSize - off);
    const buf = await w.buffer();
    if (!w.ok) break;
    let ended: boolean;
    try {
      ended = await fillPiece(source, buf, len);
    } catch (e) {
      w.stdinFailed(e);
      break;
    }
    w.send({ idx, offset: off, len }, buf);
    if (ended) total = done + len;
    done += len;
    off = 0;
    idx++;
  }
  return w.finish();
}
