import type { SdNode } from '../../shared/node.js';

/**
 * What sheep gets from a cluster driver. Every member sees the same events in
 * the same order (join acceptance, leave, notify, unblock, node update); the
 * member list passed to a handler is the list after the event.
 */
export interface ClusterHandlers {
  /**
   * Runs on the one member that accepts a join: inspect the joiner's payload
   * (its cluster_info) and return the payload every member will be given.
   */
  join(joining: SdNode, members: readonly SdNode[], payload: Buffer): Buffer;
  /** A node became a member. `self` is true on the joiner itself. */
  accept(joined: SdNode, members: readonly SdNode[], payload: Buffer, self: boolean): Promise<void> | void;
  leave(left: SdNode, members: readonly SdNode[]): Promise<void> | void;
  /** A broadcast (notify or the message of an unblock), delivered to every member. */
  notify(sender: SdNode, msg: Buffer, self: boolean): Promise<void> | void;
  updateNode(node: SdNode, members: readonly SdNode[]): Promise<void> | void;
  /** The other members removed this node (its process was taken for dead, or its session expired). */
  lost(reason: string): void;
}

export interface ClusterDriver {
  readonly name: string;
  /** The address this host is known by when `-y` is not given. */
  localAddr(): Promise<string>;
  /** Join the cluster. Resolves once the join request is queued. */
  start(self: SdNode, joinPayload: Buffer, handlers: ClusterHandlers): Promise<void>;
  /** Totally ordered broadcast; delivered to every member, sender included. */
  notify(msg: Buffer): Promise<void>;
  /**
   * Wait for the cluster-wide block: at most one member holds it, granted in
   * request order, and only once every member has applied every event before
   * the request (so the holder's work never reaches a member that has still to
   * apply, say, a format). The holder must call unblock.
   */
  block(): Promise<void>;
  /** Release the block and broadcast msg (delivered before the next block is granted). */
  unblock(msg: Buffer): Promise<void>;
  /** Broadcast a changed node (vnodes, space). */
  updateNode(node: SdNode): Promise<void>;
  /**
   * False once this member can no longer be sure it is still a member (the
   * zookeeper driver: no answer from ZooKeeper for 2/3 of the session
   * timeout). I/O must not be served then. Absent: always true.
   */
  canServe?(): boolean;
  /**
   * True when start() may be called again after handlers.lost (a new session,
   * a new member). Otherwise a lost membership ends the sheep.
   */
  readonly rejoinable?: boolean;
  /** Where the block stands (read position, queue, grant), for a log line about a block that takes long. */
  blockState?(): string;
  /** Leave the cluster on purpose. */
  leave(): Promise<void>;
  stop(): Promise<void>;
}
