/**
 * Interfaces the parts of the daemon are given, shared by several of them.
 * This file imports no implementation (only shared/ types): a part that
 * depends on one of these does not depend on the part that implements it,
 * which keeps the daemon's files free of import circles. sheep.ts wires the
 * implementations (Group, Gateway) in.
 */
import type { SdNode } from '../shared/node.js';
import type { VnodeRing } from '../shared/placement.js';
import type { ClusterInfo } from '../shared/proto/cluster-info.js';

/** The membership as the parts that place objects read it (Group implements it). */
export interface MembershipView {
  readonly epoch: number;
  readonly status: number;
  readonly cinfo: ClusterInfo;
  /** the ring of the current epoch (empty while not serving) */
  readonly ring: VnodeRing;
  /** current driver membership, sorted */
  readonly members: readonly SdNode[];
  /** Nodes with the vnode counts placement uses (auto vnodes from space). */
  effective(nodes: readonly SdNode[]): SdNode[];
}

/** A membership view that can also wait for a later epoch. */
export interface EpochWaiter extends MembershipView {
  /** Resolve when this sheep has reached `epoch` (or reject after timeoutMs). */
  waitForEpoch(epoch: number, timeoutMs?: number): Promise<void>;
}

/** An object's size and redundancy, from its VDI or the cluster defaults (Gateway implements it). */
export interface ObjectLayout {
  objSize(oid: bigint): number;
  copies(oid: bigint, requested: number): number;
  copyPolicy(oid: bigint, requested: number): number;
}
