import type { SdNode } from '../../shared/node.js';
import type { SdHeader } from '../../shared/proto/header.js';
import type { ClusterDriver } from '../cluster/driver.js';
import type { Gateway } from '../gateway.js';
import type { Group } from '../group.js';
import type { Logger } from '../log.js';
import type { EpochRecord, MetaStore } from '../meta.js';
import type { SheepOptions } from '../options.js';
import type { Peers } from '../peers.js';
import type { Recovery } from '../recovery.js';
import type { Stats } from '../stats.js';
import type { MdStore } from '../store/md.js';
import type { ObjectCache } from '../store/object-cache.js';
import type { DiskInfo, ObjectStore } from '../store/store.js';
import type { VdiManager } from '../vdi.js';
import type { VdiTable } from '../vdi-table.js';

/**
 * What op handlers are given: the sheep's rooms and the few daemon-wide
 * actions ops start (format, shutdown, kill, reweight...). Sheep implements
 * it; this file names the rooms by their types and imports no part that
 * runs ops, so the op tables sit below the server in the import graph.
 */
export interface OpContext {
  readonly opts: SheepOptions;
  readonly baseDir: string;
  readonly log: Logger;
  readonly stats: Stats;
  /** REWEIGHT and SET_VNODES replace it */
  self: SdNode;
  readonly peers: Peers;
  readonly group: Group;
  readonly gateway: Gateway;
  readonly recovery: Recovery;
  readonly vdiManager: VdiManager;
  readonly vdis: VdiTable;
  readonly meta: MetaStore;
  readonly store: ObjectStore | undefined;
  readonly md: MdStore | undefined;
  readonly cache: ObjectCache | undefined;
  readonly driver: ClusterDriver;
  /** Run a peer op against this sheep's own store without a socket. */
  peerLocal(hdr: SdHeader, payload?: Buffer, into?: Buffer): Promise<{ hdr: SdHeader; data: Buffer }>;
  /** An epoch's members: from our log, else from a member that has it. */
  epochRecord(epoch: number): Promise<EpochRecord | undefined>;
  /** Persist the cluster config. */
  saveConfig(shutdown?: boolean): Promise<void>;
  /** MAKE_FS main part. */
  format(ci: Parameters<Group['format']>[0]): Promise<void>;
  /** A cluster op issued by this sheep itself. */
  runInternalClusterOp(req: SdHeader, payload?: Buffer): Promise<SdHeader>;
  /** SHUTDOWN main part. */
  clusterShutdown(): Promise<void>;
  /** KILL_NODE: leave and exit once the reply is out. */
  kill(): void;
  /** REWEIGHT main part. */
  reweight(): Promise<void>;
  /** DEL_VDI main part: free the vids of a wholly deleted VDI family. */
  collectVids(vid: number): Promise<void>;
  onVdiCopiesChanged(): void;
  onRecoveryEnabled(): void;
  /** STAT_RECOVERY: recovery_state (24 bytes). */
  recoveryState(): Buffer;
  diskInfo(): Promise<DiskInfo[]>;
}

/**
 * An op handler: reads the request, fills response fields in `rsp` (result is
 * SUCCESS unless it says otherwise) and returns the reply payload, if any.
 * Operational failures throw SdError.
 */
export type OpHandler = (
  s: OpContext, req: SdHeader, data: Buffer | undefined, rsp: SdHeader,
  /** a buffer for the reply payload, for ops with replyInto (see there) */
  into?: Buffer,
) => Promise<Buffer | undefined | void>;

/** Main part of a cluster op: runs on every sheep in cluster order. */
export type MainHandler = (
  s: OpContext, req: SdHeader, rsp: SdHeader, data: Buffer | undefined, sender: SdNode,
) => Promise<void> | void;

interface BaseOpDef {
  /** accepted while the cluster is not running (before format, waiting for members) */
  force?: boolean;
}

/** gateway: object I/O fanned out to holders; peer: the local store; local: this sheep only. */
export interface DirectOpDef extends BaseOpDef {
  kind: 'gateway' | 'peer' | 'local';
  handle: OpHandler;
  /**
   * True when, for this request, the handler keeps no reference to the
   * payload once it settles (no cache, journal or erasure code holding it):
   * the server may then reuse the payload's buffer (see Server.recycle).
   */
  payloadFreeAfter?: (s: OpContext, req: SdHeader) => boolean;
  /**
   * The handler takes a server buffer (`into`, at least req.dataLength bytes)
   * for its reply payload, passes it only to calls that are done with it when
   * they settle, and keeps no reference to it after settling except in the
   * reply it returns: the server reuses it once that reply is written.
   */
  replyInto?: boolean;
}

/** Serialised through the cluster driver: work (under the cluster block) and/or main. */
export interface ClusterOpDef extends BaseOpDef {
  kind: 'cluster';
  work?: OpHandler;
  main?: MainHandler;
}

export type OpDef = DirectOpDef | ClusterOpDef;
export type OpTable = Partial<Record<number, OpDef>>;
