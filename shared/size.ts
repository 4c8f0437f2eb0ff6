import { fixed } from './cformat.js';

/** Units of dog's human-readable sizes; the smallest shown unit is MB. */
const UNITS = ['MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'] as const;

/**
 * A byte count as dog prints it ("strnumber"): MiB-based, `%.0f` from 10 up,
 * `%.1f` below; raw mode prints plain decimal bytes.
 */
export function formatSize(bytes: number | bigint, raw = false): string {
  if (raw) return BigInt(bytes).toString();
  let v = Number(bytes) / 1048576;
  let unit = 0;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${fixed(v, v >= 10 ? 0 : 1)} ${UNITS[unit]}`;
}

const STRTOD_PREFIX =
  /^[ \t\n\v\f\r]*[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;

const SUFFIX: Record<string, number> = {
  '': 1, b: 1, B: 1,
  k: 1024, K: 1024,
  m: 1024 ** 2, M: 1024 ** 2,
  g: 1024 ** 3, G: 1024 ** 3,
  t: 1024 ** 4, T: 1024 ** 4,
  p: 1024 ** 5, P: 1024 ** 5,
};

function parseHexFloat(s: string): number {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/.exec(s.trim());
  if (!m) return NaN;
  const intPart = m[2] || '0';
  const frac = m[3] ?? '';
  let v = parseInt(intPart, 16);
  for (let i = 0; i < frac.length; i++) v += parseInt(frac[i]!, 16) / 16 ** (i + 1);
  v *= 2 ** Number(m[4] ?? 0);
  return m[1] === '-' ? -v : v;
}

/**
 * Parse a size argument as dog does: a C strtod number followed by at most one
 * suffix of B, K, M, G, T or P (any case). Returns undefined when invalid;
 * negative and non-finite values are refused (the original let them wrap).
 */
export function parseSize(arg: string): number | undefined {
  const m = STRTOD_PREFIX.exec(arg);
  if (!m) return undefined;
  const rest = arg.slice(m[0].length);
  const mult = SUFFIX[rest];
  if (mult === undefined) return undefined;
  const text = m[0];
  const value = /0[xX]/.test(text) ? parseHexFloat(text) : Number(text.trim());
  if (!Number.isFinite(value) || value < 0) return undefined;
  const bytes = Math.trunc(value * mult);
  if (!Number.isFinite(bytes) || bytes > 2 ** 64 - 1) return undefined;
  return bytes;
}

export const SIZE_ERROR_HINT =
  'You may use B, K, M, G, T or P suffixes for bytes, kilobytes, megabytes, gigabytes, terabytes and petabytes.';
