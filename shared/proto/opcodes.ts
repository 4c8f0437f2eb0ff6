/**
 * Request opcodes of the Sheepdog 1.0 protocol. The one table of opcode numbers;
 * what a sheep does with each lives in sheep/ops/index.ts.
 */
export const SD_OP = {
  CREATE_AND_WRITE_OBJ: 0x01,
  READ_OBJ: 0x02,
  WRITE_OBJ: 0x03,
  REMOVE_OBJ: 0x04,
  DISCARD_OBJ: 0x05,
  NEW_VDI: 0x11,
  LOCK_VDI: 0x12,
  RELEASE_VDI: 0x13,
  GET_VDI_INFO: 0x14,
  READ_VDIS: 0x15,
  FLUSH_VDI: 0x16,
  DEL_VDI: 0x17,
  GET_CLUSTER_DEFAULT: 0x18,
  GET_NODE_LIST: 0x82,
  MAKE_FS: 0x84,
  SHUTDOWN: 0x85,
  STAT_SHEEP: 0x86,
  STAT_CLUSTER: 0x87,
  GET_VDI_ATTR: 0x89,
  FORCE_RECOVER: 0x8a,
  GET_STORE_LIST: 0x90,
  SNAPSHOT: 0x91,
  RESTORE: 0x92,
  GET_SNAP_FILE: 0x93,
  CLEANUP: 0x94,
  TRACE_STATUS: 0x95,
  TRACE_READ_BUF: 0x96,
  STAT_RECOVERY: 0x97,
  FLUSH_DEL_CACHE: 0x98,
  NOTIFY_VDI_DEL: 0x99,
  KILL_NODE: 0x9a,
  TRACE_ENABLE: 0x9b,
  TRACE_DISABLE: 0x9c,
  GET_OBJ_LIST: 0xa1,
  GET_EPOCH: 0xa2,
  CREATE_AND_WRITE_PEER: 0xa3,
  READ_PEER: 0xa4,
  WRITE_PEER: 0xa5,
  REMOVE_PEER: 0xa6,
  ENABLE_RECOVER: 0xa8,
  DISABLE_RECOVER: 0xa9,
  GET_VDI_COPIES: 0xab,
  COMPLETE_RECOVERY: 0xac,
  FLUSH_NODES: 0xad,
  FLUSH_PEER: 0xae,
  NOTIFY_VDI_ADD: 0xaf,
  DELETE_CACHE: 0xb0,
  MD_INFO: 0xb1,
  MD_PLUG: 0xb2,
  MD_UNPLUG: 0xb3,
  GET_HASH: 0xb4,
  REWEIGHT: 0xb5,
  GET_CACHE_INFO: 0xb6,
  CACHE_PURGE: 0xb7,
  STAT: 0xb8,
  GET_LOGLEVEL: 0xb9,
  SET_LOGLEVEL: 0xba,
  NFS_CREATE: 0xbb,
  NFS_DELETE: 0xbc,
  EXIST: 0xbd,
  CLUSTER_INFO: 0xbe,
  ALTER_CLUSTER_COPY: 0xbf,
  ALTER_VDI_COPY: 0xc0,
  DECREF_OBJ: 0xc1,
  DECREF_PEER: 0xc2,
  PREVENT_INODE_UPDATE: 0xc3,
  ALLOW_INODE_UPDATE: 0xc4,
  REPAIR_REPLICA: 0xc5,
  OIDS_EXIST: 0xc6,
  VDI_STATE_CHECKPOINT_CTL: 0xc7,
  INODE_COHERENCE: 0xc8,
  READ_DEL_VDIS: 0xc9,
  GET_RECOVERY: 0xca,
  SET_RECOVERY: 0xcb,
  SET_VNODES: 0xcc,
  GET_VNODES: 0xcd,
} as const;

export type SdOpcode = (typeof SD_OP)[keyof typeof SD_OP];

const OP_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(SD_OP).map(([name, code]) => [code, name]),
);

/** Symbolic name of an opcode, for logs. */
export function opName(code: number): string {
  return OP_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

/** Client protocol version (opcodes < 0x80); QEMU sends 0x01, older clients 0. */
export const SD_PROTO_VER = 0x02;
/** Internal protocol version (opcodes >= 0x80). */
export const SD_SHEEP_PROTO_VER = 0x0a;
export const SD_LISTEN_PORT = 7000;
