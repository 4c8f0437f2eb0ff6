/**
 * MD_INFO reply, sd_md_info (protocol.md §16.4): 64 disks of
 * {s32 idx, pad, u64 free, u64 used, char path[4096]}, then s32 nr and pad.
 * The sheep encodes it, dog decodes it.
 */
import { writeCString } from '../inode.js';

export const MD_INFO_SIZE = 263688;
export const MD_INFO_MAX_DISKS = 64;
const DISK_SIZE = 4120;
const PATH_AT = 24;
const PATH_LEN = 4096;
const NR_AT = 263680;

export interface MdDisk {
  idx: number;
  free: bigint;
  used: bigint;
  path: string;
}

/** Disks numbered in the order given. */
export function encodeMdInfo(disks: readonly Omit<MdDisk, 'idx'>[]): Buffer {
  const out = Buffer.alloc(MD_INFO_SIZE);
  disks.forEach((d, i) => {
    const at = i * DISK_SIZE;
    out.writeInt32LE(i, at);
    out.writeBigUInt64LE(d.free, at + 8);
    out.writeBigUInt64LE(d.used, at + 16);
    writeCString(out, at + PATH_AT, PATH_LEN, d.path);
  });
  out.writeInt32LE(disks.length, NR_AT);
  return out;
}

/** A short reply decodes to no disks; nr is clamped to 0..64. */
export function decodeMdInfo(b: Buffer): MdDisk[] {
  if (b.length < NR_AT + 4) return [];
  const nr = Math.min(Math.max(b.readInt32LE(NR_AT), 0), MD_INFO_MAX_DISKS);
  const disks: MdDisk[] = [];
  for (let i = 0; i < nr; i++) {
    const at = i * DISK_SIZE;
    const raw = b.subarray(at + PATH_AT, at + DISK_SIZE);
    const nul = raw.indexOf(0);
    disks.push({
      idx: b.readInt32LE(at), free: b.readBigUInt64LE(at + 8), used: b.readBigUInt64LE(at + 16),
      path: raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8'),
    });
  }
  return disks;
}
