/**
 * GF(2^8) with the primitive polynomial x^8+x^4+x^3+x^2+1 (0x11D) and
 * generator 2, the field of the zfec / Rizzo code Sheepdog uses (protocol.md
 * §12.3). Everything is table-driven: one 64 KiB product table, so that
 * multiplying a whole buffer by a constant is one lookup per byte.
 */
import { assert } from '../errors.js';

const PRIM_POLY = 0x11d;

/** EXP[i] = 2^i, doubled in length so EXP[log a + log b] needs no modulo. */
export const GF_EXP = new Uint8Array(510);
/** LOG[a] for a != 0 (LOG[0] is unused). */
export const GF_LOG = new Uint8Array(256);
/** MUL[(a << 8) | b] = a·b; row a is MUL.subarray(a << 8, (a + 1) << 8). */
export const GF_MUL = new Uint8Array(65536);
/** INV[a] = a^-1 for a != 0. */
export const GF_INV = new Uint8Array(256);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    GF_EXP[i] = x;
    GF_LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= PRIM_POLY;
  }
  for (let i = 255; i < 510; i++) GF_EXP[i] = GF_EXP[i - 255]!;
  for (let a = 1; a < 256; a++) {
    const la = GF_LOG[a]!;
    for (let b = 1; b < 256; b++) GF_MUL[(a << 8) | b] = GF_EXP[la + GF_LOG[b]!]!;
    GF_INV[a] = GF_EXP[255 - la]!;
  }
}

export function gfMul(a: number, b: number): number {
  return GF_MUL[(a << 8) | b]!;
}

/** α^e for any e >= 0 (α = 2). */
export function gfPow2(e: number): number {
  return GF_EXP[e % 255]!;
}

/** The 256-byte product row of constant c. */
export function mulRow(c: number): Uint8Array {
  return GF_MUL.subarray(c << 8, (c + 1) << 8);
}

/**
 * dst[i] = c·src[i] for i < len (set, not accumulate). c = 1 copies, c = 0 zeroes.
 */
export function gfMulSet(dst: Uint8Array, src: Uint8Array, c: number, len: number): void {
  if (c === 0) {
    dst.fill(0, 0, len);
    return;
  }
  if (c === 1) {
    dst.set(src.subarray(0, len));
    return;
  }
  dst.fill(0, 0, len);
  gfMulAdd(dst, src, c, len);
}

/** Buffers at least this long use the 16-bit product tables (building one costs 64 Ki steps). */
const WIDE_TABLE_MIN_LEN = 1 << 16;
/** 16-bit product tables kept (128 KiB each). */
const WIDE_TABLE_CACHE_MAX = 48;
const wideTables = new Map<number, Uint16Array>();

/** T[x] = c·(x & 0xff) | c·(x >> 8) << 8: two bytes per lookup. */
function wideTable(c: number): Uint16Array {
  let t = wideTables.get(c);
  if (t) return t;
  const row = mulRow(c);
  t = new Uint16Array(65536);
  for (let hi = 0; hi < 256; hi++) {
    const h = row[hi]! << 8;
    for (let lo = 0; lo < 256; lo++) t[(hi << 8) | lo] = h | row[lo]!;
  }
  if (wideTables.size >= WIDE_TABLE_CACHE_MAX) wideTables.delete(wideTables.keys().next().value!);
  wideTables.set(c, t);
  return t;
}

const aligned4 = (a: Uint8Array): boolean => (a.byteOffset & 3) === 0;

/** dst[i] ^= c·src[i] for i < len. */
export function gfMulAdd(dst: Uint8Array, src: Uint8Array, c: number, len: number): void {
  if (c === 0) return;
  if (c === 1) {
    xorInto(dst, src, len);
    return;
  }
  const row = mulRow(c);
  let i = 0;
  if (aligned4(dst) && aligned4(src)) {
    // a 32-bit word at a time (little-endian byte order within the word does not matter)
    const n32 = len >>> 2;
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, n32);
    const s32 = new Uint32Array(src.buffer, src.byteOffset, n32);
    if (len >= WIDE_TABLE_MIN_LEN) {
      const t = wideTable(c);
      for (let k = 0; k < n32; k++) {
        const x = s32[k]!;
        d32[k] ^= t[x & 0xffff]! | (t[x >>> 16]! << 16);
      }
    } else {
      for (let k = 0; k < n32; k++) {
        const x = s32[k]!;
        d32[k] ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
      }
    }
    i = n32 << 2;
  }
  for (; i < len; i++) dst[i] ^= row[src[i]!]!;
}

/** dst ^= src over len bytes, 32 bits at a time where both are 4-byte aligned. */
export function xorInto(dst: Uint8Array, src: Uint8Array, len: number): void {
  let i = 0;
  if ((dst.byteOffset & 3) === 0 && (src.byteOffset & 3) === 0) {
    const n32 = len >>> 2;
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, n32);
    const s32 = new Uint32Array(src.buffer, src.byteOffset, n32);
    for (let k = 0; k < n32; k++) d32[k] ^= s32[k]!;
    i = n32 << 2;
  }
  for (; i < len; i++) dst[i] ^= src[i]!;
}

/**
 * Invert an n×n matrix (row-major) in GF(2^8) by Gauss–Jordan elimination.
 * Throws (an assertion: a caller bug) when the matrix is singular.
 */
export function gfInvertMatrix(m: Uint8Array, n: number): Uint8Array {
  assert(m.length === n * n, 'a square matrix');
  const a = Uint8Array.from(m);
  const inv = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && a[pivot * n + col] === 0) pivot++;
    assert(pivot < n, 'the matrix is invertible');
    if (pivot !== col) {
      for (let k = 0; k < n; k++) {
        [a[col * n + k], a[pivot * n + k]] = [a[pivot * n + k]!, a[col * n + k]!];
        [inv[col * n + k], inv[pivot * n + k]] = [inv[pivot * n + k]!, inv[col * n + k]!];
      }
    }
    const f = GF_INV[a[col * n + col]!]!;
    for (let k = 0; k < n; k++) {
      a[col * n + k] = gfMul(a[col * n + k]!, f);
      inv[col * n + k] = gfMul(inv[col * n + k]!, f);
    }
    for (let r = 0; r < n; r++) {
      const g = a[r * n + col]!;
      if (r === col || g === 0) continue;
      for (let k = 0; k < n; k++) {
        a[r * n + k] ^= gfMul(g, a[col * n + k]!);
        inv[r * n + k] ^= gfMul(g, inv[col * n + k]!);
      }
    }
  }
  return inv;
}

/** (rows×inner) · (inner×cols), row-major. */
export function gfMatMul(a: Uint8Array, b: Uint8Array, rows: number, inner: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let acc = 0;
      for (let k = 0; k < inner; k++) acc ^= gfMul(a[r * inner + k]!, b[k * cols + c]!);
      out[r * cols + c] = acc;
    }
  }
  return out;
}
