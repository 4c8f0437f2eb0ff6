/** FNV-1a 64 and the hash family built on it (sd_hash, vnode and name hashes). */

export const FNV1A_64_BASIS = 0xcbf29ce484222325n;
const FNV_64_PRIME = 0x100000001b3n;
const M64 = (1n << 64n) - 1n;

export function fnv1a64(bytes: Uint8Array, h: bigint = FNV1A_64_BASIS): bigint {
  for (let i = 0; i < bytes.length; i++) {
    h ^= BigInt(bytes[i]!);
    h = (h * FNV_64_PRIME) & M64;
  }
  return h;
}

/** FNV-1a over the 8 little-endian bytes of x. */
export function fnv1aU64(x: bigint, h: bigint): bigint {
  for (let s = 0n; s < 64n; s += 8n) {
    h ^= (x >> s) & 0xffn;
    h = (h * FNV_64_PRIME) & M64;
  }
  return h;
}

/** sd_hash: hash the bytes, then hash the 64-bit result once more with itself as seed. */
export function sdHash(bytes: Uint8Array): bigint {
  const h = fnv1a64(bytes);
  return fnv1aU64(h, h);
}

export function sdHashNext(h: bigint): bigint {
  return fnv1aU64(h, h);
}

export function sdHashOid(oid: bigint): bigint {
  const h = fnv1aU64(oid, FNV1A_64_BASIS);
  return fnv1aU64(h, h);
}

/** The 24-bit VDI id candidate of a name: FNV-1a of the name bytes, low 24 bits. */
export function vdiNameHash(name: string | Uint8Array): number {
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  return Number(fnv1a64(bytes) & 0xffffffn);
}
