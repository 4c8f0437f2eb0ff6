/**
 * GET_OBJ_LIST reply: the object ids a sheep stores, u64 each. The sheep
 * encodes it; recovery, the disk-full check and sheepfs decode it.
 */

export function encodeOidList(oids: readonly bigint[]): Buffer {
  const b = Buffer.alloc(8 * oids.length);
  oids.forEach((o, i) => b.writeBigUInt64LE(o, 8 * i));
  return b;
}

/** Trailing bytes short of a whole id are ignored. */
export function decodeOidList(b: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let at = 0; at + 8 <= b.length; at += 8) out.push(b.readBigUInt64LE(at));
  return out;
}
