/** Request header flags (sd_req.flags). Unknown bits are ignored. */
export const SD_FLAG = {
  CMD_WRITE: 0x0001,
  CMD_COW: 0x0002,
  CMD_CACHE: 0x0004,
  CMD_DIRECT: 0x0008,
  CMD_PIGGYBACK: 0x0010,
  CMD_TGT: 0x0020,
  CMD_FWD: 0x0040,
  CMD_RECOVERY: 0x0080,
  /** Peer reads: search the stale directory whatever the epoch. Same bit as CREAT. */
  CMD_WILDCARD: 0x0100,
  /** GET_VDI_ATTR: create if absent. Same bit as WILDCARD. */
  CMD_CREAT: 0x0100,
  CMD_EXCL: 0x0200,
  CMD_DEL: 0x0400,
} as const;

/** Cluster flags (cluster_info.flags, MAKE_FS, config). */
export const SD_CLUSTER_FLAG = {
  STRICT: 0x0001,
  DISKMODE: 0x0002,
  AUTO_VNODES: 0x0004,
  USE_LOCK: 0x0008,
  RECYCLE_VID: 0x0010,
  AVOID_DISKFULL: 0x0020,
} as const;

/** Cluster status (cluster_info.status). */
export const SD_STATUS = {
  OK: 1,
  WAIT: 2,
  SHUTDOWN: 3,
  KILLED: 4,
} as const;
