import { assert } from '../errors.js';
import { readCString, writeCString } from '../inode.js';
import { decodeNodes, encodeNode, SD_MAX_NODES, SD_NODE_SIZE, type SdNode } from '../node.js';

/** cluster_info: 48-byte header then room for 6 144 nodes (491 568 bytes in all). */
export const CLUSTER_INFO_HEADER_SIZE = 48;
export const CLUSTER_INFO_SIZE = CLUSTER_INFO_HEADER_SIZE + SD_MAX_NODES * SD_NODE_SIZE;
export const STORE_LEN = 16;

export interface ClusterInfo {
  protoVer: number;
  disableRecovery: boolean;
  epoch: number;
  /** (seconds << 32) | nanoseconds; 0 = never formatted */
  ctime: bigint;
  flags: number;
  nrCopies: number;
  copyPolicy: number;
  status: number;
  blockSizeShift: number;
  defaultStore: string;
  /** members of epoch `epoch` */
  nodes: SdNode[];
}

/** Encode header plus the listed nodes only (the rest of the 491 568 bytes are never read). */
export function encodeClusterInfo(ci: ClusterInfo, fullSize = false): Buffer {
  assert(ci.nodes.length <= SD_MAX_NODES, 'cluster_info holds at most 6144 nodes');
  const len = fullSize ? CLUSTER_INFO_SIZE : CLUSTER_INFO_HEADER_SIZE + ci.nodes.length * SD_NODE_SIZE;
  const b = Buffer.alloc(len);
  b[0] = ci.protoVer;
  b[1] = ci.disableRecovery ? 1 : 0;
  b.writeInt16LE(ci.nodes.length, 2);
  b.writeUInt32LE(ci.epoch >>> 0, 4);
  b.writeBigUInt64LE(ci.ctime, 8);
  b.writeUInt16LE(ci.flags, 16);
  b[18] = ci.nrCopies;
  b[19] = ci.copyPolicy;
  b[20] = ci.status;
  b[21] = ci.blockSizeShift;
  writeCString(b, 25, STORE_LEN, ci.defaultStore);
  ci.nodes.forEach((n, i) => encodeNode(n, b, CLUSTER_INFO_HEADER_SIZE + i * SD_NODE_SIZE));
  return b;
}

export function decodeClusterInfo(b: Buffer): ClusterInfo {
  assert(b.length >= CLUSTER_INFO_HEADER_SIZE, 'cluster_info needs its 48-byte header');
  const nr = Math.max(0, b.readInt16LE(2));
  const fit = Math.min(nr, Math.floor((b.length - CLUSTER_INFO_HEADER_SIZE) / SD_NODE_SIZE));
  return {
    protoVer: b[0]!,
    disableRecovery: b[1] !== 0,
    epoch: b.readUInt32LE(4),
    ctime: b.readBigUInt64LE(8),
    flags: b.readUInt16LE(16),
    nrCopies: b[18]!,
    copyPolicy: b[19]!,
    status: b[20]!,
    blockSizeShift: b[21]!,
    defaultStore: readCString(b, 25, STORE_LEN),
    nodes: decodeNodes(b, fit, CLUSTER_INFO_HEADER_SIZE),
  };
}

/** One record of a STAT_CLUSTER reply. */
export interface EpochLog {
  ctime: bigint;
  /** seconds since the Unix epoch when this epoch began */
  time: bigint;
  epoch: number;
  disableRecovery: boolean;
  nrCopies: number;
  copyPolicy: number;
  flags: number;
  drvName: string;
  nodes: SdNode[];
}

export const EPOCH_LOG_HEADER_SIZE = 48;

export function epochLogStride(nodesNr: number): number {
  return EPOCH_LOG_HEADER_SIZE + nodesNr * SD_NODE_SIZE;
}

/** Encode one record into `out` at `at`, with room for `nodesNr` node slots. */
export function encodeEpochLog(e: EpochLog, nodesNr: number, out: Buffer, at: number): void {
  out.writeBigUInt64LE(e.ctime, at);
  out.writeBigUInt64LE(e.time, at + 8);
  out.writeUInt32LE(e.epoch >>> 0, at + 16);
  const listed = nodesNr === 0 ? 0 : e.nodes.length;
  out.writeUInt32LE(listed, at + 20);
  out[at + 24] = e.disableRecovery ? 1 : 0;
  out[at + 25] = e.nrCopies;
  out[at + 26] = e.copyPolicy;
  out.writeUInt16LE(e.flags, at + 30);
  writeCString(out, at + 32, STORE_LEN, e.drvName);
  if (nodesNr === 0) return;
  assert(e.nodes.length <= nodesNr, 'epoch record has room for its nodes');
  e.nodes.forEach((n, i) => encodeNode(n, out, at + EPOCH_LOG_HEADER_SIZE + i * SD_NODE_SIZE));
}

export function decodeEpochLog(b: Buffer, at: number, nodesNr: number): EpochLog {
  const nr = b.readUInt32LE(at + 20);
  const fit = Math.min(nr, nodesNr);
  return {
    ctime: b.readBigUInt64LE(at),
    time: b.readBigUInt64LE(at + 8),
    epoch: b.readUInt32LE(at + 16),
    disableRecovery: b[at + 24] !== 0,
    nrCopies: b[at + 25]!,
    copyPolicy: b[at + 26]!,
    flags: b.readUInt16LE(at + 30),
    drvName: readCString(b, at + 32, STORE_LEN),
    nodes: decodeNodes(b, fit, at + EPOCH_LOG_HEADER_SIZE),
  };
}
