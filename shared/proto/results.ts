/**
 * Sheepdog result codes (sd_rsp.result) and the text `dog` prints for each.
 * These numbers travel on the wire: never renumber them.
 */
export const SD_RES = {
  SUCCESS: 0x00,
  UNKNOWN: 0x01,
  NO_OBJ: 0x02,
  EIO: 0x03,
  VDI_EXIST: 0x04,
  INVALID_PARMS: 0x05,
  SYSTEM_ERROR: 0x06,
  VDI_LOCKED: 0x07,
  NO_VDI: 0x08,
  NO_BASE_VDI: 0x09,
  VDI_READ: 0x0a,
  VDI_WRITE: 0x0b,
  BASE_VDI_READ: 0x0c,
  BASE_VDI_WRITE: 0x0d,
  NO_TAG: 0x0e,
  STARTUP: 0x0f,
  VDI_NOT_LOCKED: 0x10,
  SHUTDOWN: 0x11,
  NO_MEM: 0x12,
  FULL_VDI: 0x13,
  VER_MISMATCH: 0x14,
  NO_SPACE: 0x15,
  WAIT_FOR_FORMAT: 0x16,
  WAIT_FOR_JOIN: 0x17,
  JOIN_FAILED: 0x18,
  HALT: 0x19,
  READONLY: 0x1a,
  INODE_INVALIDATED: 0x1d,
  OLD_NODE_VER: 0x81,
  NEW_NODE_VER: 0x82,
  NOT_FORMATTED: 0x83,
  INVALID_CTIME: 0x84,
  INVALID_EPOCH: 0x85,
  NETWORK_ERROR: 0x86,
  NO_CACHE: 0x87,
  BUFFER_SMALL: 0x88,
  FORCE_RECOVER: 0x89,
  NO_STORE: 0x8a,
  NO_SUPPORT: 0x8b,
  NODE_IN_RECOVERY: 0x8c,
  KILLED: 0x8d,
  OID_EXIST: 0x8e,
  AGAIN: 0x8f,
  STALE_OBJ: 0x90,
  CLUSTER_ERROR: 0x91,
  VDI_NOT_EMPTY: 0x92,
  NOT_FOUND: 0x93,
  INCOMPLETE: 0x94,
  COLLECTING_CINFO: 0x95,
  GATEWAY_MODE: 0x97,
  INVALID_VNODES_STRATEGY: 0x98,
  NO_CHECKPOINT_ENTRY: 0x99,
} as const;

export type SdResult = (typeof SD_RES)[keyof typeof SD_RES];

const RESULT_TEXT: ReadonlyMap<number, string> = new Map([
  [0x00, 'Success'],
  [0x01, 'Unknown error'],
  [0x02, 'No object found'],
  [0x03, 'I/O error'],
  [0x04, 'VDI exists already'],
  [0x05, 'Invalid parameters'],
  [0x06, 'System error'],
  [0x07, 'VDI is already locked'],
  [0x08, 'No VDI found'],
  [0x09, 'No base VDI found'],
  [0x0a, 'Failed to read from requested VDI'],
  [0x0b, 'Failed to write to requested VDI'],
  [0x0c, 'Failed to read from base VDI'],
  [0x0d, 'Failed to write to base VDI'],
  [0x0e, 'Failed to find requested tag'],
  [0x0f, 'System is still booting'],
  [0x10, 'VDI is not locked'],
  [0x11, 'System is shutting down'],
  [0x12, 'Out of memory on server'],
  [0x13, 'Maximum number of VDIs reached'],
  [0x14, 'Protocol version mismatch'],
  [0x15, 'Server has no space for new objects'],
  [0x16, 'Waiting for cluster to be formatted'],
  [0x17, 'Waiting for other nodes to join cluster'],
  [0x18, 'Node has failed to join cluster'],
  [0x19, 'IO has halted as there are not enough living nodes'],
  [0x1a, 'Object is read-only'],
  [0x1d, 'Inode object is invalidated'],
  [0x81, 'Request has an old epoch'],
  [0x82, 'Request has a new epoch'],
  [0x83, 'Cluster has not been formatted'],
  [0x84, 'Creation times differ'],
  [0x85, 'Invalid epoch'],
  [0x86, 'Network error between sheep'],
  [0x87, 'No cache object found'],
  [0x88, 'The buffer is too small'],
  [0x89, 'Cluster is running/halted and cannot be force recovered'],
  [0x8a, 'Targeted backend store is not found'],
  [0x8b, 'Operation is not supported'],
  [0x8c, 'Targeted node is in recovery'],
  [0x8d, 'Node is killed'],
  [0x8e, 'Object ID exists already'],
  [0x8f, 'Ask to try again'],
  [0x90, 'Object may be stale'],
  [0x91, 'Cluster driver error'],
  [0x97, 'Targeted node is gateway mode'],
  [0x98, 'Invalid cluster vnodes strategy'],
]);

/** The message `dog` prints for a result code (Appendix A of the CLI spec). */
export function resultText(code: number): string {
  return RESULT_TEXT.get(code) ?? `Invalid error code ${code.toString(16)}`;
}

const RESULT_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(SD_RES).map(([name, code]) => [code, name]),
);

/** Symbolic name of a result code, for logs. */
export function resultName(code: number): string {
  return RESULT_NAMES.get(code) ?? `0x${code.toString(16)}`;
}
