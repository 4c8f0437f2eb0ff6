/**
 * dog vdi read [-s snap] <vdiname> [<offset> [<len>]] (cli.md §2.7.15).
 * Up to 8 object reads are in flight on the one connection; their data goes to
 * fd 1 in order as it arrives. Unallocated objects read as zeros without a request.
 */
import { fsync } from 'node:fs';
import { decodeInodeHeader, countDataObjs } from '../../shared/inode.js';
import { SD_INODE_DATA_INDEX_SIZE, SD_INODE_HEADER_SIZE, vidToDataOid } from '../../shared/oid.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { strerror } from '../errno.js';
import { EXIT, ExitNow } from '../exit.js';
import { untrim } from '../../shared/client.js';
import { hex, readObjectRequest } from '../object-io.js';
import { err, writeBinary } from '../output.js';
import { orderedWindow } from '../window.js';
import { Progress } from '../progress.js';
import { inodeIndex } from './inode-index.js';
import { readVdiObj } from './open.js';
import { parseRangeArgs, pieces, type Piece } from './range.js';

/** Header and index in one read (what QEMU reads too); the gref area is not needed. */
export const INODE_WITH_INDEX = SD_INODE_HEADER_SIZE + SD_INODE_DATA_INDEX_SIZE;
const WINDOW = 8;
/** Exit status of a process killed by SIGPIPE, as the original dies when the reader goes away. */
const EXIT_SIGPIPE = 128 + 13;

interface Got {
  data?: Buffer;
  /** the object buffer the reply was read into: free again once data is written out */
  buf?: Buffer;
  message?: string;
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const name = args[0]!;
  const range = parseRangeArgs(args.slice(1));
  if (!range) return EXIT.USAGE;
  const o = dog.opts;
  const opened = await readVdiObj(dog, name, o.snapshotId, o.snapshotTag, INODE_WITH_INDEX);
  if (!opened) return EXIT.FAILURE;
  const h = decodeInodeHeader(opened.inode);
  if (h.vdiSize < range.offset) {
    err('Read offset is beyond the end of the VDI');
    return EXIT.FAILURE;
  }
  const index = await inodeIndex(dog, opened.inode, h.storePolicy, countDataObjs(h));
  if (!index) {
    err('Failed to read VDI');
    return EXIT.FAILURE;
  }
  const objSize = 2 ** h.blockSizeShift;
  const total = Math.min(range.len, h.vdiSize - range.offset);
  let zeros = Buffer.alloc(0);
  // object buffers whose data is written out, reused for later replies (a
  // fresh 4 MiB buffer per object kept V8's garbage collector busy); at most
  // WINDOW + 1 exist: the replies in flight and the one being written
  const spare: Buffer[] = [];
  const pieceMax = Math.min(objSize, total);

  const fetch = async (p: Piece): Promise<Got> => {
    const vid = index.vidAt(p.idx);
    if (vid === 0) {
      if (zeros.length < p.len) zeros = Buffer.alloc(p.len);
      return { data: zeros.subarray(0, p.len) };
    }
    const oid = vidToDataOid(vid, p.idx);
    const buf = spare.pop() ?? Buffer.allocUnsafe(pieceMax);
    const r = await dog.exec(readObjectRequest(oid, p.len, p.offset, false), undefined, undefined, buf);
    if (!r) return { message: `Failed to read object ${hex(oid)}` };
    if (r.hdr.result !== SD_RES.SUCCESS) return { message: `Failed to read object ${hex(oid)} ${resultText(r.hdr.result)}` };
    return { data: untrim(r, p.len), buf };
  };

  const objects = Math.ceil((range.offset + total) / objSize) - Math.floor(range.offset / objSize);
  const progress = new Progress(total, objects, { label: 'read' });
  for await (const got of orderedWindow(pieces(range.offset, total, objSize), WINDOW, fetch)) {
    if (!got.data) {
      progress.abort();
      err(got.message!);
      err('Failed to read VDI');
      return EXIT.FAILURE;
    }
    try {
      await writeBinary(got.data);
    } catch (e) {
      progress.abort();
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') throw new ExitNow(EXIT_SIGPIPE);
      err(`Failed to write to stdout: ${strerror(e)}`);
      return EXIT.SYSFAIL;
    }
    progress.advance(got.data.length);
    if (got.buf) spare.push(got.buf);
  }
  progress.end();
  await new Promise<void>((resolve) => fsync(1, () => resolve()));
  return EXIT.SUCCESS;
}
