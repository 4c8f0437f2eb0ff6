/**
 * How vdi read and vdi write cut a byte range of a VDI into per-object pieces:
 * a piece never crosses an object boundary (cli.md §2.7.15-16).
 */
import { parseSize, SIZE_ERROR_HINT } from '../../shared/size.js';
import { err } from '../output.js';

export interface Piece {
  /** data object index */
  idx: number;
  /** byte offset inside the object */
  offset: number;
  len: number;
}

/** The pieces of [offset, offset + total) for objects of objSize bytes. */
export function* pieces(offset: number, total: number, objSize: number): Generator<Piece> {
  let idx = Math.floor(offset / objSize);
  let off = offset - idx * objSize;
  let done = 0;
  while (done < total) {
    const len = Math.min(total - done, objSize - off);
    yield { idx, offset: off, len };
    done += len;
    off = 0;
    idx++;
  }
}

/**
 * The optional `<offset> [<len>]` arguments. The length defaults to "to the end"
 * (the caller clamps it to the VDI). undefined after printing the size error
 * (the command returns EXIT_USAGE).
 */
export function parseRangeArgs(args: readonly string[]): { offset: number; len: number } | undefined {
  let offset = 0;
  let len = Number.POSITIVE_INFINITY;
  for (const [i, a] of [args[0], args[1]].entries()) {
    if (a === undefined) break;
    const v = parseSize(a);
    if (v === undefined) {
      err(`Invalid size '${a}'`);
      err(SIZE_ERROR_HINT);
      return undefined;
    }
    if (i === 0) offset = v;
    else len = v;
  }
  return { offset, len };
}
