/**
 * STAT reply, sd_stat (protocol.md §16.7): fifteen u64 request counters.
 * The sheep encodes it; dog (`node stat`) and sheepfs (node/stat) decode it.
 */

export const SD_STAT_SIZE = 120;

export interface SdStat {
  gwayActive: bigint; peerActive: bigint; gwayTotal: bigint; peerTotal: bigint;
  gwayRx: bigint; gwayTx: bigint; peerRx: bigint; peerTx: bigint;
  gwayRemove: bigint; gwayRead: bigint; gwayWrite: bigint; gwayFlush: bigint;
  peerRemove: bigint; peerRead: bigint; peerWrite: bigint;
}

/** The counters in wire order. */
export const SD_STAT_FIELDS = ['gwayActive', 'peerActive', 'gwayTotal', 'peerTotal', 'gwayRx', 'gwayTx', 'peerRx', 'peerTx',
  'gwayRemove', 'gwayRead', 'gwayWrite', 'gwayFlush', 'peerRemove', 'peerRead', 'peerWrite'] as const satisfies readonly (keyof SdStat)[];

/** Negative counts (a counter that went below zero) are sent as 0. */
export function encodeStat(s: SdStat): Buffer {
  const b = Buffer.alloc(SD_STAT_SIZE);
  SD_STAT_FIELDS.forEach((f, i) => b.writeBigUInt64LE(s[f] < 0n ? 0n : s[f], 8 * i));
  return b;
}

/** A short reply leaves the missing counters 0. */
export function decodeStat(b: Buffer): SdStat {
  const s = {} as SdStat;
  SD_STAT_FIELDS.forEach((f, i) => { s[f] = b.length >= (i + 1) * 8 ? b.readBigUInt64LE(i * 8) : 0n; });
  return s;
}
