import { assert } from './errors.js';
import {
  SD_INODE_DATA_INDEX,
  SD_INODE_GREF_OFFSET,
  SD_INODE_HEADER_SIZE,
  SD_INODE_SIZE,
  SD_MAX_VDI_LEN,
} from './oid.js';

/**
 * The VDI inode object (sd_inode, 12 587 576 bytes): a 4 664-byte header, the
 * data_vdi_id index (2^20 u32) and the generation references (2^20 x {i32,i32}).
 */
export interface InodeHeader {
  name: string;
  tag: string;
  /** (seconds << 32) | nanoseconds */
  createTime: bigint;
  /** non-zero <=> this VDI is a snapshot */
  snapCtime: bigint;
  vmClockNsec: bigint;
  vdiSize: number;
  vmStateSize: bigint;
  copyPolicy: number;
  storePolicy: number;
  nrCopies: number;
  blockSizeShift: number;
  snapId: number;
  vdiId: number;
  parentVdiId: number;
  btreeCounter: number;
}

export const INODE_OFF = {
  name: 0,
  tag: 256,
  createTime: 512,
  snapCtime: 520,
  vmClockNsec: 528,
  vdiSize: 536,
  vmStateSize: 544,
  copyPolicy: 552,
  storePolicy: 553,
  nrCopies: 554,
  blockSizeShift: 555,
  snapId: 556,
  vdiId: 560,
  parentVdiId: 564,
  btreeCounter: 568,
  dataVdiId: SD_INODE_HEADER_SIZE,
  gref: SD_INODE_GREF_OFFSET,
} as const;

/** Bytes of the header plus the B-tree index header dog reads first. */
export const INODE_LIST_READ = SD_INODE_HEADER_SIZE + 8;

export function readCString(buf: Buffer, at: number, len: number): string {
  const slice = buf.subarray(at, at + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

/** Write a NUL-padded fixed-size string field; the text must leave room for the NUL. */
export function writeCString(buf: Buffer, at: number, len: number, s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  assert(bytes.length < len, `string field of ${len} bytes holds ${bytes.length}`);
  buf.fill(0, at, at + len);
  bytes.copy(buf, at);
}

export function decodeInodeHeader(buf: Buffer): InodeHeader {
  assert(buf.length >= SD_INODE_HEADER_SIZE, 'inode header needs 4664 bytes');
  const o = INODE_OFF;
  return {
    name: readCString(buf, o.name, SD_MAX_VDI_LEN),
    tag: readCString(buf, o.tag, SD_MAX_VDI_LEN),
    createTime: buf.readBigUInt64LE(o.createTime),
    snapCtime: buf.readBigUInt64LE(o.snapCtime),
    vmClockNsec: buf.readBigUInt64LE(o.vmClockNsec),
    vdiSize: Number(buf.readBigUInt64LE(o.vdiSize)),
    vmStateSize: buf.readBigUInt64LE(o.vmStateSize),
    copyPolicy: buf[o.copyPolicy]!,
    storePolicy: buf[o.storePolicy]!,
    nrCopies: buf[o.nrCopies]!,
    blockSizeShift: buf[o.blockSizeShift]!,
    snapId: buf.readUInt32LE(o.snapId),
    vdiId: buf.readUInt32LE(o.vdiId),
    parentVdiId: buf.readUInt32LE(o.parentVdiId),
    btreeCounter: buf.readUInt32LE(o.btreeCounter),
  };
}

/** Encode the header fields into buf (which may be a whole inode); __unused is left as is. */
export function encodeInodeHeader(h: InodeHeader, buf: Buffer = Buffer.alloc(SD_INODE_HEADER_SIZE)): Buffer {
  assert(buf.length >= SD_INODE_HEADER_SIZE, 'inode header needs 4664 bytes');
  assert(h.vdiId > 0 && h.vdiId < 1 << 24, `vdi id ${h.vdiId} is 24-bit and non-zero`);
  const o = INODE_OFF;
  writeCString(buf, o.name, SD_MAX_VDI_LEN, h.name);
  writeCString(buf, o.tag, SD_MAX_VDI_LEN, h.tag);
  buf.writeBigUInt64LE(h.createTime, o.createTime);
  buf.writeBigUInt64LE(h.snapCtime, o.snapCtime);
  buf.writeBigUInt64LE(h.vmClockNsec, o.vmClockNsec);
  buf.writeBigUInt64LE(BigInt(h.vdiSize), o.vdiSize);
  buf.writeBigUInt64LE(h.vmStateSize, o.vmStateSize);
  buf[o.copyPolicy] = h.copyPolicy;
  buf[o.storePolicy] = h.storePolicy;
  buf[o.nrCopies] = h.nrCopies;
  buf[o.blockSizeShift] = h.blockSizeShift;
  buf.writeUInt32LE(h.snapId, o.snapId);
  buf.writeUInt32LE(h.vdiId, o.vdiId);
  buf.writeUInt32LE(h.parentVdiId, o.parentVdiId);
  buf.writeUInt32LE(h.btreeCounter, o.btreeCounter);
  return buf;
}

/** Number of index slots a VDI of this size uses: ceil(size / object size). */
export function countDataObjs(h: Pick<InodeHeader, 'vdiSize' | 'blockSizeShift'>): number {
  const objSize = 2 ** h.blockSizeShift;
  return Math.min(Math.ceil(h.vdiSize / objSize), SD_INODE_DATA_INDEX);
}

export const isSnapshot = (h: Pick<InodeHeader, 'snapCtime'>): boolean => h.snapCtime !== 0n;
export const isClone = (h: Pick<InodeHeader, 'snapId' | 'parentVdiId' | 'snapCtime'>): boolean =>
  h.snapCtime === 0n && h.snapId === 1 && h.parentVdiId !== 0;

/** Byte offset of index slot i inside the inode object. */
export const slotOffset = (i: number): number => INODE_OFF.dataVdiId + 4 * i;
/** Byte offset of gref i inside the inode object. */
export const grefOffset = (i: number): number => INODE_OFF.gref + 8 * i;

/** Read `count` index slots from a buffer holding the inode from offset `bufOffset` on. */
export function readIndex(buf: Buffer, count: number, bufOffset = 0): Uint32Array {
  const out = new Uint32Array(count);
  const start = INODE_OFF.dataVdiId - bufOffset;
  const avail = Math.max(0, Math.min(count, Math.floor((buf.length - start) / 4)));
  for (let i = 0; i < avail; i++) out[i] = buf.readUInt32LE(start + 4 * i);
  return out;
}

export interface GenerationRef {
  generation: number;
  count: number;
}

export function readGref(buf: Buffer, i: number, bufOffset = 0): GenerationRef {
  const at = grefOffset(i) - bufOffset;
  return { generation: buf.readInt32LE(at), count: buf.readInt32LE(at + 4) };
}

/** A whole inode in memory, as the sheep's VDI code and dog -P/clone handle it. */
export function newInodeBuffer(): Buffer {
  return Buffer.alloc(SD_INODE_SIZE);
}

/** The inode-update write of creation time: (seconds << 32) | nanoseconds. */
export function nowCtime(): bigint {
  const ms = Date.now();
  const sec = BigInt(Math.floor(ms / 1000));
  const usec = BigInt((ms % 1000) * 1000);
  return (sec << 32n) | (usec * 1000n);
}

/** Seconds part of a (sec << 32 | nsec) time. */
export const ctimeSeconds = (t: bigint): number => Number(t >> 32n);
