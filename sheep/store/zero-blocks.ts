/** Leading and trailing all-zero 4 KiB blocks of a sparse object's payload stay holes. */
export function trimZeroBlocks(offset: number, data: Buffer): { offset: number; data: Buffer } {
  const BLOCK = 4096;
  let start = 0;
  let end = data.length;
  while (end > start && data[end - 1] === 0) end--;
  while (start < end && data[start] === 0) start++;
  if (start === end) return { offset, data: data.subarray(0, 0) };
  start -= (offset + start) % BLOCK;
  start = Math.max(0, start);
  const endAbs = Math.min(offset + data.length, Math.ceil((offset + end) / BLOCK) * BLOCK);
  return { offset: offset + start, data: data.subarray(start, endAbs - offset) };
}
