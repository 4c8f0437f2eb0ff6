/** printf-exact number formatting: glibc rounds the exact binary value, ties to even. */

function decompose(x: number): { mant: bigint; exp: number } {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const hi = dv.getUint32(0), lo = dv.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mant, exp: -1074 };
  mant |= 1n << 52n;
  return { mant, exp: biased - 1075 };
}

/** `%.<digits>f` of a finite number. */
export function fixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return String(x);
  const neg = x < 0 || Object.is(x, -0);
  const { mant, exp } = decompose(Math.abs(x));
  let q: bigint;
  const scale = 10n ** BigInt(digits);
  if (exp >= 0) {
    q = (mant << BigInt(exp)) * scale;
  } else {
    const num = mant * scale;
    const den = 1n << BigInt(-exp);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  }
  let s = q.toString().padStart(digits + 1, '0');
  if (digits > 0) s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  return neg ? `-${s}` : s;
}

/** Right-align in a field of `width` (printf `%Ns`). */
export const rpad = (s: string | number, width: number): string => String(s).padStart(width);
/** Left-align in a field of `width` (printf `%-Ns`). */
export const lpad = (s: string | number, width: number): string => String(s).padEnd(width);
