/** printf-style padding that counts bytes, as C does for UTF-8 names and tags. */

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** `%-Ns`: left-aligned in N bytes. */
export function padEndBytes(s: string, width: number): string {
  const n = bytes(s);
  return n >= width ? s : s + ' '.repeat(width - n);
}

/** `%Ns`: right-aligned in N bytes. */
export function padStartBytes(s: string, width: number): string {
  const n = bytes(s);
  return n >= width ? s : ' '.repeat(width - n) + s;
}
