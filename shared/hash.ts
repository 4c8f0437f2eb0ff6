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
  const out = new Uint32Array(2);
  sdHashOidParts(Number(oid >> 32n) >>> 0, Number(oid & 0xffffffffn), out);
  return (BigInt(out[0]!) << 32n) | BigInt(out[1]!);
}

// The same family on 32-bit halves held in plain numbers: placement hashes
// millions of oids and vnodes, and BigInt arithmetic allocates on every step.
// FNV_64_PRIME is 2^40 + 0x1b3, so h * prime = h * 0x1b3 + (h << 40).
const FNV_PRIME_LOW = 0x1b3;
const BASIS_HI = 0xcbf29ce4;
const BASIS_LO = 0x84222325;
const TWO32 = 0x1_0000_0000;

/** FNV-1a over the 8 little-endian bytes of x = (xHi, xLo), from state (hHi, hLo); result in out[0] (hi), out[1] (lo). */
export function fnv1aU64Parts(xHi: number, xLo: number, hHi: number, hLo: number, out: Uint32Array): void {
  let hi = hHi, lo = hLo;
  for (let i = 0; i < 8; i++) {
    const byte = i < 4 ? (xLo >>> (8 * i)) & 0xff : (xHi >>> (8 * (i - 4))) & 0xff;
    lo = (lo ^ byte) >>> 0;
    const p = lo * FNV_PRIME_LOW; // < 2^41: exact in a double
    const pLo = p >>> 0;
    hi = (hi * FNV_PRIME_LOW + (p - pLo) / TWO32 + (lo << 8)) >>> 0;
    lo = pLo;
  }
  out[0] = hi;
  out[1] = lo;
}

/** sdHashOid on halves: the oid is (oidHi, oidLo), the hash lands in out[0] (hi), out[1] (lo). */
export function sdHashOidParts(oidHi: number, oidLo: number, out: Uint32Array): void {
  fnv1aU64Parts(oidHi, oidLo, BASIS_HI, BASIS_LO, out);
  sdHashNextParts(out);
}

/** sdHashNext in place on (out[0] hi, out[1] lo). */
export function sdHashNextParts(out: Uint32Array): void {
  fnv1aU64Parts(out[0]!, out[1]!, out[0]!, out[1]!, out);
}

/** The 24-bit VDI id candidate of a name: FNV-1a of the name bytes, low 24 bits. */
export function vdiNameHash(name: string | Uint8Array): number {
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  return Number(fnv1a64(bytes) & 0xffffffn);
}
