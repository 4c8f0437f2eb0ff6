import type { SdNode } from '../../shared/node.js';
import type { SdHeader } from '../../shared/proto/header.js';
import type { Sheep } from '../sheep.js';

/**
 * An op handler: reads the request, fills response fields in `rsp` (result is
 * SUCCESS unless it says otherwise) and returns the reply payload, if any.
 * Operational failures throw SdError.
 */
export type OpHandler = (
  s: Sheep, req: SdHeader, data: Buffer | undefined, rsp: SdHeader,
) => Promise<Buffer | undefined | void>;

/** Main part of a cluster op: runs on every sheep in cluster order. */
export type MainHandler = (
  s: Sheep, req: SdHeader, rsp: SdHeader, data: Buffer | undefined, sender: SdNode,
) => Promise<void> | void;

interface BaseOpDef {
  /** accepted while the cluster is not running (before format, waiting for members) */
  force?: boolean;
}

/** gateway: object I/O fanned out to holders; peer: the local store; local: this sheep only. */
export interface DirectOpDef extends BaseOpDef {
  kind: 'gateway' | 'peer' | 'local';
  handle: OpHandler;
}

/** Serialised through the cluster driver: work (under the cluster block) and/or main. */
export interface ClusterOpDef extends BaseOpDef {
  kind: 'cluster';
  work?: OpHandler;
  main?: MainHandler;
}

export type OpDef = DirectOpDef | ClusterOpDef;
export type OpTable = Partial<Record<number, OpDef>>;
