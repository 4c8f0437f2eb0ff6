import { assert } from '../errors.js';
import { encodeAddr } from '../node.js';

/** vdi_state as GET_VDI_COPIES returns it: 1 428 bytes per VDI. */
export const VDI_STATE_SIZE = 1428;
const MAX_PARTICIPANTS = 31;

export const LOCK_STATE = { UNLOCKED: 1, LOCKED: 2, SHARED: 3 } as const;
export const SHARED_LOCK_STATE = { MODIFIED: 1, SHARED: 2, INVALIDATED: 3 } as const;

export interface LockHolder {
  addr: Buffer;
  port: number;
}

export interface VdiState {
  vid: number;
  nrCopies: number;
  snapshot: boolean;
  deleted: boolean;
  copyPolicy: number;
  blockSizeShift: number;
  parentVid: number;
  lockState: number;
  lockOwner: LockHolder | null;
  participants: { node: LockHolder; state: number }[];
}

function writeNid(b: Buffer, at: number, n: LockHolder | null): void {
  if (!n) return;
  n.addr.copy(b, at);
  b.writeUInt16LE(n.port, at + 16);
}

function readNid(b: Buffer, at: number): LockHolder {
  return { addr: Buffer.from(b.subarray(at, at + 16)), port: b.readUInt16LE(at + 16) };
}

export function encodeVdiState(s: VdiState, out: Buffer, at: number): void {
  assert(s.participants.length <= MAX_PARTICIPANTS, 'at most 31 shared-lock participants');
  out.fill(0, at, at + VDI_STATE_SIZE);
  out.writeUInt32LE(s.vid, at);
  out[at + 4] = s.nrCopies;
  out[at + 5] = s.snapshot ? 1 : 0;
  out[at + 6] = s.deleted ? 1 : 0;
  out[at + 7] = s.copyPolicy;
  out[at + 8] = s.blockSizeShift;
  out.writeUInt32LE(s.parentVid, at + 12);
  out.writeUInt32LE(s.lockState, at + 16);
  writeNid(out, at + 20, s.lockOwner);
  out.writeUInt32LE(s.participants.length, at + 60);
  s.participants.forEach((p, i) => {
    out.writeUInt32LE(p.state, at + 64 + 4 * i);
    writeNid(out, at + 188 + 40 * i, p.node);
  });
}

export function decodeVdiState(b: Buffer, at: number): VdiState {
  const lockState = b.readUInt32LE(at + 16);
  const nrParticipants = Math.min(b.readUInt32LE(at + 60), MAX_PARTICIPANTS);
  const participants = [];
  for (let i = 0; i < nrParticipants; i++) {
    participants.push({ state: b.readUInt32LE(at + 64 + 4 * i), node: readNid(b, at + 188 + 40 * i) });
  }
  return {
    vid: b.readUInt32LE(at),
    nrCopies: b[at + 4]!,
    snapshot: b[at + 5] !== 0,
    deleted: b[at + 6] !== 0,
    copyPolicy: b[at + 7]!,
    blockSizeShift: b[at + 8]!,
    parentVid: b.readUInt32LE(at + 12),
    lockState: lockState || LOCK_STATE.UNLOCKED,
    lockOwner: lockState === LOCK_STATE.LOCKED ? readNid(b, at + 20) : null,
    participants,
  };
}

export const noLockHolder = (): LockHolder => ({ addr: encodeAddr('0.0.0.0'), port: 0 });
