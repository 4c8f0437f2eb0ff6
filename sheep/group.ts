import { SdError } from '../shared/errors.js';
import { compareNodes, nodeAddrString, sameNode, type SdNode } from '../shared/node.js';
import { VnodeRing, autoVnodes } from '../shared/placement.js';
import { decodeClusterInfo, encodeClusterInfo, type ClusterInfo } from '../shared/proto/cluster-info.js';
import { SD_CLUSTER_FLAG, SD_STATUS } from '../shared/proto/flags.js';
import { SD_SHEEP_PROTO_VER } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import type { ClusterHandlers } from './cluster/driver.js';
import type { Logger } from './log.js';
import type { MetaStore } from './meta.js';
import type { SheepOptions } from './options.js';

/** How long a request that carries a newer epoch waits for this sheep to catch up. */
export const EPOCH_WAIT_MS = 10_000;

export const sortNodes = (nodes: readonly SdNode[]): SdNode[] => [...nodes].sort(compareNodes);

function sameNodeSet(a: readonly SdNode[], b: readonly SdNode[]): boolean {
  return a.length === b.length && a.every((n) => b.some((m) => sameNode(n, m)));
}

/**
 * What Group tells the daemon. Each is called in the order the cluster
 * delivered the event, and awaited where it returns a promise.
 */
export interface GroupEvents {
  /** This sheep was accepted: learn what the members know (VDI states). */
  onJoined(): Promise<void>;
  /** Another sheep was accepted. */
  onMemberJoined(node: SdNode): Promise<void>;
  /** We join a cluster whose latest epoch does not list us: set every local object aside. */
  onNotInLatestEpoch(ownLastEpoch: number): Promise<void>;
  /** A join made an unformatted sheep part of a formatted, serving cluster. */
  onFormattedByJoin(): Promise<void>;
  /** The cluster config (cinfo) changed and must be persisted. */
  saveConfig(): Promise<void>;
  /** The cluster serves: a later start is not after a clean shutdown. */
  markRunning(): Promise<void>;
  /** The cluster serves without a new epoch. */
  onServing(): void;
  /** A new epoch began; prevNodes are the members of the one before. */
  onEpochChange(prevNodes: readonly SdNode[]): void;
  /** A member left (its connections and VDI participation go). */
  onMemberLeft(node: SdNode): void;
  /** A cluster message (a cluster op's main part) in cluster order. */
  onMessage(sender: SdNode, msg: Buffer, self: boolean): Promise<void>;
  /** The driver dropped this sheep from the cluster. */
  onMembershipLost(reason: string): void;
  /** This sheep cannot be a member (another cluster, another protocol): stop. */
  fatal(msg: string): void;
}

/** What Group is given: its log, the epoch log in the metadata, two options, who it is. */
export interface GroupDeps {
  readonly log: Logger;
  readonly meta: Pick<MetaStore, 'getConfig' | 'latestEpoch' | 'getEpoch' | 'putEpoch' | 'clearEpochs'>;
  readonly opts: Pick<SheepOptions, 'vnodes' | 'gateway'>;
  readonly self: SdNode;
  readonly events: GroupEvents;
  /** seconds since the epoch, as an epoch record's time (a test's clock) */
  now?(): number;
}

/**
 * Membership, epochs and the ring. Every sheep applies the same totally ordered
 * driver events, so every sheep computes the same epochs and node lists.
 */
export class Group implements ClusterHandlers {
  cinfo: ClusterInfo;
  /** current driver membership, sorted by address */
  members: SdNode[] = [];
  ring: VnodeRing = new VnodeRing([]);
  joined = false;
  /** members of the epochs before the current one that recovery may need */
  private epochWaiters: { epoch: number; resolve: () => void }[] = [];
  private joinedWaiters: (() => void)[] = [];

  constructor(private readonly s: GroupDeps) {
    this.cinfo = {
      protoVer: SD_SHEEP_PROTO_VER, disableRecovery: false, epoch: 0, ctime: 0n,
      flags: s.opts.vnodes === undefined ? SD_CLUSTER_FLAG.AUTO_VNODES : 0,
      nrCopies: 0, copyPolicy: 0, status: SD_STATUS.WAIT, blockSizeShift: 0, defaultStore: '', nodes: [],
    };
  }

  private nowSeconds(): number {
    return this.s.now ? this.s.now() : Math.floor(Date.now() / 1000);
  }

  get epoch(): number {
    return this.cinfo.epoch;
  }

  get status(): number {
    return this.cinfo.status;
  }

  get formatted(): boolean {
    return this.cinfo.ctime !== 0n;
  }

  get autoVnodes(): boolean {
    return (this.cinfo.flags & SD_CLUSTER_FLAG.AUTO_VNODES) !== 0;
  }

  /** Restore what the last run knew: config and the latest epoch. */
  async load(): Promise<void> {
    const conf = await this.s.meta.getConfig();
    if (conf && conf.ctime !== 0n) {
      this.cinfo.ctime = conf.ctime;
      this.cinfo.flags = conf.flags;
      this.cinfo.nrCopies = conf.copies;
      this.cinfo.copyPolicy = conf.copyPolicy;
      this.cinfo.blockSizeShift = conf.blockSizeShift;
      this.cinfo.defaultStore = conf.defaultStore;
    }
    const latest = await this.s.meta.latestEpoch();
    if (latest > 0) {
      const rec = await this.s.meta.getEpoch(latest);
      this.cinfo.epoch = latest;
      this.cinfo.nodes = rec?.nodes ?? [];
    }
  }

  joinPayload(): Buffer {
    return encodeClusterInfo(this.cinfo);
  }

  /** Nodes with the vnode counts placement uses (auto vnodes from space). */
  effective(nodes: readonly SdNode[]): SdNode[] {
    return sortNodes(this.autoVnodes ? autoVnodes(nodes) : nodes);
  }

  private rebuildRing(): void {
    const nodes = this.formatted && this.status === SD_STATUS.OK ? this.cinfo.nodes : this.members;
    this.ring = new VnodeRing(this.effective(nodes));
  }

  /** Members as GET_NODE_LIST reports them. */
  nodeList(): SdNode[] {
    return this.effective(this.members);
  }

  // --- driver handlers -------------------------------------------------------

  join(joining: SdNode, members: readonly SdNode[], payload: Buffer): Buffer {
    const theirs = decodeClusterInfo(payload);
    const ci = { ...this.cinfo, nodes: [...this.cinfo.nodes] };
    if (ci.status === SD_STATUS.WAIT) {
      if (ci.epoch > 0 && theirs.epoch > 0 && ci.ctime !== theirs.ctime) {
        this.s.log.warn('group', `${nodeAddrString(joining)} belongs to another cluster (creation time differs)`);
      } else {
        if (theirs.epoch > ci.epoch) {
          Object.assign(ci, theirs, { nodes: theirs.nodes, status: SD_STATUS.WAIT });
        }
        const present = [...members, joining];
        if (ci.epoch > 0 && ci.nodes.every((n) => present.some((m) => sameNode(m, n)))) ci.status = SD_STATUS.OK;
      }
    }
    ci.protoVer = SD_SHEEP_PROTO_VER;
    return encodeClusterInfo(ci);
  }

  async accept(joined: SdNode, members: readonly SdNode[], payload: Buffer, self: boolean): Promise<void> {
    const ci = decodeClusterInfo(payload);
    if (self) {
      const problem = this.joinProblem(ci);
      if (problem) {
        this.s.events.fatal(problem);
        return;
      }
    }
    if (self && ci.epoch > 0 && !ci.nodes.some((n) => sameNode(n, this.s.self))) {
      await this.s.events.onNotInLatestEpoch(this.cinfo.epoch || ci.epoch);
    }
    if (self && members.length === 1 && ci.status === SD_STATUS.WAIT && ci.epoch > 0 && ci.ctime !== 0n
      && ci.nodes.every((n) => sameNode(n, joined))) {
      // a lone sheep settled its own join: no member ran join(); a restarted
      // sheep whose latest epoch lists only itself serves at once
      ci.status = SD_STATUS.OK;
    }
    const wasFormatted = this.formatted;
    const myAuto = this.cinfo.flags & SD_CLUSTER_FLAG.AUTO_VNODES;
    this.cinfo = { ...ci, flags: ci.ctime === 0n ? (ci.flags & ~SD_CLUSTER_FLAG.AUTO_VNODES) | myAuto : ci.flags };
    this.members = sortNodes(members);
    if (self) {
      this.joined = true;
      this.s.log.info('group', `joined the cluster: ${this.members.length} members, epoch ${this.epoch}, status ${this.status}`);
    } else {
      this.s.log.info('group', `${nodeAddrString(joined)} joined`);
    }
    if (this.status === SD_STATUS.SHUTDOWN) return;
    if (self) await this.s.events.onJoined();
    else await this.s.events.onMemberJoined(joined);
    if (this.status === SD_STATUS.OK) {
      if (!wasFormatted) {
        await this.s.events.saveConfig();
        await this.s.events.onFormattedByJoin();
      }
      if (!sameNodeSet(this.cinfo.nodes, this.members)) await this.newEpoch();
      else this.rebuildRing();
      await this.s.events.markRunning();
      this.s.events.onServing();
    } else {
      this.rebuildRing();
    }
    if (self) for (const w of this.joinedWaiters.splice(0)) w();
  }

  private joinProblem(ci: ClusterInfo): string | undefined {
    if (ci.protoVer !== SD_SHEEP_PROTO_VER) return `cluster protocol version ${ci.protoVer} is not ours (${SD_SHEEP_PROTO_VER})`;
    if (this.cinfo.epoch > 0 && ci.epoch > 0 && this.formatted && ci.ctime !== this.cinfo.ctime) {
      return 'this sheep belongs to another cluster (cluster creation time differs); refusing to join';
    }
    if (ci.ctime !== 0n) {
      const clusterAuto = (ci.flags & SD_CLUSTER_FLAG.AUTO_VNODES) !== 0;
      const mineAuto = this.s.opts.vnodes === undefined;
      if (clusterAuto !== mineAuto && !this.s.opts.gateway) {
        return `vnode strategy mismatch: the cluster uses ${clusterAuto ? 'auto' : 'fixed'} vnodes, this sheep ${mineAuto ? 'auto' : 'fixed'}`;
      }
    }
    return undefined;
  }

  async leave(left: SdNode, members: readonly SdNode[]): Promise<void> {
    this.members = sortNodes(members);
    this.s.log.info('group', `${nodeAddrString(left)} left`);
    this.s.events.onMemberLeft(left);
    if (this.status === SD_STATUS.OK) await this.newEpoch();
    else this.rebuildRing();
  }

  async notify(sender: SdNode, msg: Buffer, self: boolean): Promise<void> {
    await this.s.events.onMessage(sender, msg, self);
  }

  async updateNode(node: SdNode, members: readonly SdNode[]): Promise<void> {
    this.members = sortNodes(members);
    this.s.log.info('group', `${nodeAddrString(node)} changed (vnodes ${node.nrVnodes}, space ${node.space})`);
    if (this.status === SD_STATUS.OK) await this.newEpoch();
    else this.rebuildRing();
  }

  lost(reason: string): void {
    this.s.events.onMembershipLost(reason);
  }

  /**
   * Forget the membership (we were dropped): serve nothing until a new join is
   * accepted. The epoch log and cluster config stay: the join compares them.
   */
  resetMembership(): void {
    this.members = [];
    this.joined = false;
    if (this.cinfo.status === SD_STATUS.OK) this.cinfo.status = SD_STATUS.WAIT;
    this.ring = new VnodeRing([]);
  }

  // --- epochs ----------------------------------------------------------------

  /** Start a new epoch with the current members; recovery follows. */
  async newEpoch(): Promise<void> {
    const prev = this.cinfo.nodes;
    const nodes = this.effective(this.members);
    const epoch = this.cinfo.epoch + 1;
    await this.s.meta.putEpoch({ epoch, nodes, time: BigInt(this.nowSeconds()) });
    // The new epoch shows only from here on, together with its ring and its
    // recovery (in the same turn): a peer request of the new epoch that got in
    // while the log was written would find neither the new ring nor the
    // recovery that has its object waiting, and answer "No object found".
    this.cinfo = { ...this.cinfo, epoch, nodes };
    this.rebuildRing();
    this.s.log.info('group', `epoch ${this.cinfo.epoch}: ${nodes.map(nodeAddrString).join(', ')}`);
    for (const w of this.epochWaiters.filter((x) => x.epoch <= this.cinfo.epoch)) w.resolve();
    this.epochWaiters = this.epochWaiters.filter((x) => x.epoch > this.cinfo.epoch);
    this.s.events.onEpochChange(prev);
  }

  /** MAKE_FS main part: a fresh cluster at epoch 1 with the current members. */
  async format(ci: Pick<ClusterInfo, 'ctime' | 'flags' | 'nrCopies' | 'copyPolicy' | 'blockSizeShift' | 'defaultStore'>): Promise<void> {
    await this.s.meta.clearEpochs();
    this.cinfo = { ...this.cinfo, ...ci, epoch: 0, status: SD_STATUS.OK, nodes: [], disableRecovery: false };
    await this.s.events.saveConfig();
    const nodes = this.effective(this.members);
    this.cinfo.epoch = 1;
    this.cinfo.nodes = nodes;
    await this.s.meta.putEpoch({ epoch: 1, nodes, time: BigInt(this.nowSeconds()) });
    this.rebuildRing();
    for (const w of this.epochWaiters.splice(0)) w.resolve();
  }

  /** FORCE_RECOVER main part: serve with the members present, in a new epoch. */
  async forceRecover(): Promise<void> {
    this.cinfo.status = SD_STATUS.OK;
    await this.newEpoch();
    await this.s.events.markRunning();
  }

  setStatus(status: number): void {
    this.cinfo.status = status;
    this.rebuildRing();
  }

  /** Resolve when this sheep has reached `epoch` (or reject after a while). */
  waitForEpoch(epoch: number, timeoutMs = EPOCH_WAIT_MS): Promise<void> {
    if ((this.epoch - epoch | 0) >= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.epochWaiters = this.epochWaiters.filter((w) => w.resolve !== done);
        reject(new SdError(SD_RES.NEW_NODE_VER));
      }, timeoutMs);
      const done = () => { clearTimeout(t); resolve(); };
      this.epochWaiters.push({ epoch, resolve: done });
    });
  }

  waitJoined(): Promise<void> {
    if (this.joined) return Promise.resolve();
    return new Promise((resolve) => this.joinedWaiters.push(resolve));
  }
}
