/**
 * The recovery payloads: STAT_RECOVERY's recovery_state (protocol.md §16.5)
 * and GET_RECOVERY/SET_RECOVERY's recovery_throttling. The sheep encodes the
 * state and the throttle it reports and decodes the throttle dog sets; dog
 * the other way round.
 */

/** recovery_state: u8 in_recovery, pad, u32 state, u64 nr_finished, u64 nr_total */
export const RECOVERY_STATE_SIZE = 24;

export interface RecoveryState {
  inRecovery: boolean;
  /** RECOVERY_PHASE: 0 preparing the object list, 1 recovering, 2 notifying */
  state: number;
  finished: bigint;
  total: bigint;
}

export function encodeRecoveryState(s: RecoveryState): Buffer {
  const b = Buffer.alloc(RECOVERY_STATE_SIZE);
  if (!s.inRecovery) return b;
  b[0] = 1;
  b.writeUInt32LE(s.state, 4);
  b.writeBigUInt64LE(s.finished, 8);
  b.writeBigUInt64LE(s.total, 16);
  return b;
}

/** A short reply decodes as "not recovering". */
export function decodeRecoveryState(b: Buffer): RecoveryState {
  if (b.length < RECOVERY_STATE_SIZE) return { inRecovery: false, state: 0, finished: 0n, total: 0n };
  return { inRecovery: b[0] !== 0, state: b.readUInt32LE(4), finished: b.readBigUInt64LE(8), total: b.readBigUInt64LE(16) };
}

/** recovery_throttling: u32 max_exec_count, pad, u64 queue_work_interval (ms), bool throttling, pad */
export const RECOVERY_THROTTLE_SIZE = 24;

export interface RecoveryThrottle {
  max: number;
  interval: bigint;
  /** set by the encoder when both are non-zero; informational for the reader */
  throttling: boolean;
}

export function encodeRecoveryThrottle(max: number, interval: bigint): Buffer {
  const b = Buffer.alloc(RECOVERY_THROTTLE_SIZE);
  b.writeUInt32LE(max >>> 0, 0);
  b.writeBigUInt64LE(interval, 8);
  b[16] = max > 0 && interval > 0n ? 1 : 0;
  return b;
}

/** undefined when the payload is too short to hold max and interval. */
export function decodeRecoveryThrottle(b: Buffer, need = RECOVERY_THROTTLE_SIZE): RecoveryThrottle | undefined {
  if (b.length < need) return undefined;
  return { max: b.readUInt32LE(0), interval: b.readBigUInt64LE(8), throttling: b.length > 16 && b[16] === 1 };
}
