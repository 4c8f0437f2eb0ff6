/**
 * GET_CACHE_INFO reply (the object cache, -w): u64 size, u64 used, u32 count,
 * u8 directio, pad to 24; then count rows of {u32 vid, u32 objects, u64 bytes,
 * u64 dirty}. The sheep encodes it, dog decodes it.
 */

export const CACHE_INFO_HEADER = 24;
export const CACHE_INFO_ROW = 24;

export interface CacheInfoRow {
  vid: number;
  objects: number;
  bytes: bigint;
  dirty: bigint;
}

export interface CacheInfo {
  size: bigint;
  used: bigint;
  directIo: boolean;
  rows: CacheInfoRow[];
}

/** How many rows fit a reply buffer of `room` bytes. */
export function cacheInfoRowsFitting(room: number): number {
  return Math.max(0, Math.floor((room - CACHE_INFO_HEADER) / CACHE_INFO_ROW));
}

export function encodeCacheInfo(c: CacheInfo): Buffer {
  const b = Buffer.alloc(CACHE_INFO_HEADER + c.rows.length * CACHE_INFO_ROW);
  b.writeBigUInt64LE(c.size, 0);
  b.writeBigUInt64LE(c.used, 8);
  b.writeUInt32LE(c.rows.length, 16);
  b[20] = c.directIo ? 1 : 0;
  c.rows.forEach((r, i) => {
    const at = CACHE_INFO_HEADER + i * CACHE_INFO_ROW;
    b.writeUInt32LE(r.vid, at);
    b.writeUInt32LE(r.objects, at + 4);
    b.writeBigUInt64LE(r.bytes, at + 8);
    b.writeBigUInt64LE(r.dirty, at + 16);
  });
  return b;
}

export function decodeCacheInfo(b: Buffer): CacheInfo {
  const count = b.readUInt32LE(16);
  const rows: CacheInfoRow[] = [];
  for (let i = 0; i < count; i++) {
    const at = CACHE_INFO_HEADER + CACHE_INFO_ROW * i;
    rows.push({ vid: b.readUInt32LE(at), objects: b.readUInt32LE(at + 4), bytes: b.readBigUInt64LE(at + 8), dirty: b.readBigUInt64LE(at + 16) });
  }
  return { size: b.readBigUInt64LE(0), used: b.readBigUInt64LE(8), directIo: b[20] === 1, rows };
}
