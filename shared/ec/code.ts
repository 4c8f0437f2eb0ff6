/**
 * The systematic Vandermonde Reed–Solomon code of Sheepdog's erasure coding
 * (protocol.md §12.3; zfec / Rizzo construction), and the stripe layout of
 * §12.2: an object is cut into 512-byte stripes, stripe s gives each of the d
 * data strips 512/d bytes, and strip file j holds strip j of every stripe in
 * order. Because the code works byte by byte, byte i of every strip file
 * belongs to the same stripe, so whole strip files are coded at once.
 */
import { assert } from '../errors.js';
import { gfInvertMatrix, gfMatMul, gfMulAdd, gfMulSet, gfPow2 } from './gf256.js';

/** SD_EC_DATA_STRIPE_SIZE: bytes of object data in one stripe. */
export const EC_STRIPE_SIZE = 512;
/** SD_EC_MAX_STRIP: most data strips, and parity strips are fewer. */
export const EC_MAX_STRIP = 16;
/** Valid data strip counts. */
export const EC_DATA_STRIPS: readonly number[] = [2, 4, 8, 16];
/** Decode matrices kept per code (one per set of available strips). */
const DECODE_CACHE_MAX = 64;

/** Is (d, p) a policy Sheepdog accepts? */
export function validEcGeometry(d: number, p: number): boolean {
  return EC_DATA_STRIPS.includes(d) && Number.isInteger(p) && p >= 1 && p < EC_MAX_STRIP;
}

export class ErasureCode {
  /** bytes of one strip in one stripe (512 / d) */
  readonly stripSize: number;
  readonly total: number;
  /** the (d+p)×d encoding matrix, row-major: identity on top, parity rows below */
  readonly matrix: Uint8Array;
  private readonly decodeCache = new Map<string, Uint8Array>();

  constructor(readonly d: number, readonly p: number) {
    assert(validEcGeometry(d, p), `an erasure code of ${d}:${p}`);
    this.total = d + p;
    this.stripSize = EC_STRIPE_SIZE / d;
    this.matrix = encodingMatrix(d, p);
  }

  /** Row i of the encoding matrix: strip i as a combination of the data strips. */
  row(i: number): Uint8Array {
    return this.matrix.subarray(i * this.d, (i + 1) * this.d);
  }

  /**
   * Parity strips of d equally long data strips (whole strip files or single
   * stripes alike). Returns p new buffers of the same length.
   */
  encode(data: readonly Uint8Array[]): Buffer[] {
    assert(data.length === this.d, `${this.d} data strips`);
    const len = data[0]!.length;
    for (const s of data) assert(s.length === len, 'data strips of equal length');
    const out: Buffer[] = [];
    for (let k = 0; k < this.p; k++) out.push(this.combine(this.row(this.d + k), data, len));
    return out;
  }

  /**
   * Rebuild strips from any d available ones. `strips[i]` is strip i (0 ≤ i <
   * d+p) or undefined when missing; all present strips have the same length.
   * Returns the strips asked for in `want`, in that order (present ones as given).
   * Throws (an assertion) if fewer than d strips are present.
   */
  reconstruct(strips: readonly (Uint8Array | undefined)[], want: readonly number[]): Uint8Array[] {
    assert(strips.length === this.total, `${this.total} strip slots`);
    const avail: number[] = [];
    for (let i = 0; i < this.total && avail.length < this.d; i++) if (strips[i]) avail.push(i);
    assert(avail.length === this.d, `at least ${this.d} strips to decode from`);
    const len = strips[avail[0]!]!.length;
    const srcs = avail.map((i) => strips[i]!);
    for (const s of srcs) assert(s.length === len, 'strips of equal length');
    const out: Uint8Array[] = [];
    let dec: Uint8Array | undefined;
    for (const w of want) {
      assert(Number.isInteger(w) && w >= 0 && w < this.total, `strip index ${w}`);
      const have = strips[w];
      if (have) {
        out.push(have);
        continue;
      }
      dec ??= this.decodeMatrix(avail);
      // data_w = dec[w] · avail; parity_k = E[d+k] · dec · avail
      const coeffs = w < this.d
        ? dec.subarray(w * this.d, (w + 1) * this.d)
        : gfMatMul(this.row(w), dec, 1, this.d, this.d);
      out.push(this.combine(coeffs, srcs, len));
    }
    return out;
  }

  /** Inverse of the encoding-matrix rows of the available strips (d×d), cached. */
  private decodeMatrix(avail: readonly number[]): Uint8Array {
    const key = avail.join(',');
    const hit = this.decodeCache.get(key);
    if (hit) return hit;
    const sub = new Uint8Array(this.d * this.d);
    avail.forEach((idx, r) => sub.set(this.row(idx), r * this.d));
    const inv = gfInvertMatrix(sub, this.d);
    if (this.decodeCache.size >= DECODE_CACHE_MAX) this.decodeCache.delete(this.decodeCache.keys().next().value!);
    this.decodeCache.set(key, inv);
    return inv;
  }

  /** Σ coeffs[j] · srcs[j], into a new buffer of len bytes. */
  private combine(coeffs: Uint8Array, srcs: readonly Uint8Array[], len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    let first = true;
    for (let j = 0; j < srcs.length; j++) {
      const c = coeffs[j]!;
      if (c === 0) continue;
      if (first) gfMulSet(out, srcs[j]!, c, len);
      else gfMulAdd(out, srcs[j]!, c, len);
      first = false;
    }
    if (first) out.fill(0);
    return out;
  }
}

/**
 * zfec's systematic matrix: V[0] = [1,0,…,0], V[r][c] = α^((r−1)c) for r ≥ 1;
 * E = V × (top d×d of V)^-1, whose top is the identity.
 */
function encodingMatrix(d: number, p: number): Uint8Array {
  const n = d + p;
  const v = new Uint8Array(n * d);
  v[0] = 1;
  for (let r = 1; r < n; r++) for (let c = 0; c < d; c++) v[r * d + c] = gfPow2((r - 1) * c);
  const topInv = gfInvertMatrix(v.subarray(0, d * d), d);
  const bottom = gfMatMul(v.subarray(d * d), topInv, p, d, d);
  const e = new Uint8Array(n * d);
  for (let i = 0; i < d; i++) e[i * d + i] = 1;
  e.set(bottom, d * d);
  return e;
}

const codes = new Map<number, ErasureCode>();

/** The (shared, immutable) code of a d:p policy. */
export function ecCode(d: number, p: number): ErasureCode {
  const key = (d << 8) | p;
  let c = codes.get(key);
  if (!c) {
    c = new ErasureCode(d, p);
    codes.set(key, c);
  }
  return c;
}

/**
 * Cut stripe-aligned object bytes (a whole number of 512-byte stripes) into
 * the d data strips: strip j gets bytes [512s + j·w, 512s + (j+1)·w) of every
 * stripe s, in order (w = 512/d).
 */
export function splitStripes(buf: Uint8Array, d: number): Buffer[] {
  assert(buf.length % EC_STRIPE_SIZE === 0, 'whole stripes');
  const w = EC_STRIPE_SIZE / d;
  const n = buf.length / EC_STRIPE_SIZE;
  const strips: Buffer[] = [];
  for (let j = 0; j < d; j++) {
    const out = Buffer.allocUnsafe(n * w);
    let src = j * w;
    for (let s = 0, dst = 0; s < n; s++, src += EC_STRIPE_SIZE, dst += w) {
      out.set(buf.subarray(src, src + w), dst);
    }
    strips.push(out);
  }
  return strips;
}

/** The inverse of splitStripes: interleave d data strips back into object bytes. */
export function joinStripes(strips: readonly Uint8Array[], d: number): Buffer {
  assert(strips.length === d, `${d} data strips`);
  const w = EC_STRIPE_SIZE / d;
  const len = strips[0]!.length;
  assert(len % w === 0, 'whole strips');
  const n = len / w;
  const out = Buffer.allocUnsafe(n * EC_STRIPE_SIZE);
  for (let j = 0; j < d; j++) {
    const strip = strips[j]!;
    assert(strip.length === len, 'strips of equal length');
    let dst = j * w;
    for (let s = 0, src = 0; s < n; s++, src += w, dst += EC_STRIPE_SIZE) {
      out.set(strip.subarray(src, src + w), dst);
    }
  }
  return out;
}

/** All d+p strips of stripe-aligned object bytes: the data strips, then parity. */
export function encodeStripes(buf: Uint8Array, code: ErasureCode): Buffer[] {
  const data = splitStripes(buf, code.d);
  return [...data, ...code.encode(data)];
}

/** Most candidate sets of bad strips locateBadStrips tries before it gives up. */
const LOCATE_TRIES_MAX = 512;

/**
 * Which of the present strips of one object disagree with the others (`vdi
 * check`): the smallest set B such that the remaining present strips are one
 * codeword. With n strips present, up to ⌊(n−d)/2⌋ bad ones can be told apart
 * from good ones; more than that (or more than LOCATE_TRIES_MAX candidate
 * sets) is undecidable and gives undefined, as do fewer than d present strips.
 * Returns [] when the present strips agree (or exactly d are present, so
 * nothing can be compared). Strip files are coded whole: all present strips
 * must have the same length.
 */
export function locateBadStrips(code: ErasureCode, strips: readonly (Uint8Array | undefined)[]): number[] | undefined {
  assert(strips.length === code.total, `${code.total} strip slots`);
  const present: number[] = [];
  strips.forEach((s, i) => { if (s) present.push(i); });
  if (present.length < code.d) return undefined;
  const agree = (members: readonly number[]): boolean => {
    const base = members.slice(0, code.d);
    const rest = members.slice(code.d);
    if (rest.length === 0) return true;
    const only: (Uint8Array | undefined)[] = new Array(code.total).fill(undefined);
    for (const i of base) only[i] = strips[i];
    const rebuilt = code.reconstruct(only, rest);
    return rest.every((j, n) => Buffer.compare(rebuilt[n]!, strips[j]!) === 0);
  };
  let tries = 0;
  const maxBad = Math.floor((present.length - code.d) / 2);
  for (let k = 0; k <= maxBad; k++) {
    for (const bad of subsets(present, k)) {
      if (++tries > LOCATE_TRIES_MAX) return undefined;
      if (agree(present.filter((i) => !bad.includes(i)))) return bad;
    }
  }
  return undefined;
}

/** The k-element subsets of xs, in lexicographic order of positions. */
function* subsets(xs: readonly number[], k: number, from = 0): Generator<number[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= xs.length - k; i++) {
    for (const rest of subsets(xs, k - 1, i + 1)) yield [xs[i]!, ...rest];
  }
}
