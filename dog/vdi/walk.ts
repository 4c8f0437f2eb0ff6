/**
 * Visiting every live VDI (the original's parse_vdi): read the in-use and
 * deleted bitmaps, then each inode header in vid order, and optionally its index.
 * Header reads are pipelined; messages are still printed in vid order.
 */
import { nodeUsedBytes, readNodeHeader } from '../../shared/btree.js';
import { countDataObjs, decodeInodeHeader, INODE_LIST_READ, INODE_OFF, type InodeHeader } from '../../shared/inode.js';
import { SD_INODE_HEADER_SIZE, SD_NR_VDIS, vidToVdiOid } from '../../shared/oid.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { untrim } from '../../shared/client.js';
import { hex, readObjectRequest } from '../object-io.js';
import { err } from '../output.js';
import { orderedWindow } from '../window.js';
import {
  FlatIndex, loadHyperIndex, type InodeIndex,
} from './inode-index.js';

export const BITMAP_SIZE = SD_NR_VDIS / 8;
const WINDOW = 16;

export interface VdiInfo {
  vid: number;
  header: InodeHeader;
  /** vdi_size exactly (header.vdiSize is a double) */
  vdiSize: bigint;
  /** the index, when the walk was asked for it */
  index?: InodeIndex;
}

/** The vids whose bit is set in `inUse` and clear in `deleted`, ascending. */
export function* liveVids(inUse: Buffer, deleted?: Buffer): Generator<number> {
  const words = Math.floor(inUse.length / 4);
  for (let w = 0; w < words; w++) {
    let bits = inUse.readUInt32LE(w * 4);
    if (bits === 0) continue;
    if (deleted && deleted.length >= w * 4 + 4) bits &= ~deleted.readUInt32LE(w * 4);
    for (let b = 0; bits !== 0 && b < 32; b++) {
      if (bits & (1 << b)) {
        yield w * 32 + b;
        bits &= ~(1 << b);
      }
    }
  }
}

async function readBitmap(dog: Dog, opcode: number): Promise<Buffer | undefined> {
  const r = await dog.exec(SdHeader.request(opcode, 0, BITMAP_SIZE));
  if (!r) return undefined;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(resultText(r.hdr.result));
    return undefined;
  }
  return r.data;
}

interface Loaded {
  info?: VdiInfo;
  /** messages to print, in order, for this vid */
  messages: string[];
}

async function readQuiet(dog: Dog, oid: bigint, len: number, off: number, messages: string[]): Promise<Buffer | undefined> {
  const r = await dog.exec(readObjectRequest(oid, len, off, true));
  if (!r) {
    messages.push(`Failed to read object ${hex(oid)}`);
    return undefined;
  }
  if (r.hdr.result !== SD_RES.SUCCESS) {
    messages.push(`Failed to read object ${hex(oid)} ${resultText(r.hdr.result)}`);
    return undefined;
  }
  return untrim(r, len);
}

async function loadOne(dog: Dog, vid: number, withIndex: boolean): Promise<Loaded> {
  const messages: string[] = [];
  const oid = vidToVdiOid(vid);
  const raw = await readQuiet(dog, oid, INODE_LIST_READ, 0, messages);
  if (!raw) {
    messages.push('Failed to read inode header');
    return { messages };
  }
  const header = decodeInodeHeader(raw);
  if (header.name === '') return { messages }; // deleted
  const vdiSize = raw.readBigUInt64LE(INODE_OFF.vdiSize);
  if (!withIndex) return { info: { vid, header, vdiSize }, messages };
  let index: InodeIndex | undefined;
  if (header.storePolicy === 1) {
    const used = nodeUsedBytes(readNodeHeader(raw, SD_INODE_HEADER_SIZE));
    const root = await readQuiet(dog, oid, used, SD_INODE_HEADER_SIZE, messages);
    if (root) index = await loadHyperIndex(dog, root, 0);
  } else {
    const count = countDataObjs(header);
    const area = count === 0 ? Buffer.alloc(0) : await readQuiet(dog, oid, count * 4, SD_INODE_HEADER_SIZE, messages);
    if (area) index = new FlatIndex(area, 0, count);
  }
  if (!index) {
    messages.push('Failed to read inode');
    return { messages };
  }
  return { info: { vid, header, vdiSize, index }, messages };
}

/**
 * Every live VDI in vid order. undefined when the bitmaps cannot be read (the
 * command then exits 2); VDIs whose inode cannot be read are reported and skipped.
 */
export async function walkVdis(dog: Dog, withIndex: boolean, visit: (v: VdiInfo) => void): Promise<boolean> {
  const inUse = await readBitmap(dog, SD_OP.READ_VDIS);
  if (!inUse) return false;
  const deleted = await readBitmap(dog, SD_OP.READ_DEL_VDIS);
  if (!deleted) return false;
  for await (const r of orderedWindow(liveVids(inUse, deleted), WINDOW, (vid) => loadOne(dog, vid, withIndex))) {
    for (const m of r.messages) err(m);
    if (r.info) visit(r.info);
  }
  return true;
}
