import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { ConnectError } from '../shared/client.js';
import { resultOf, SdError } from '../shared/errors.js';
import { decodeNodes, makeNode, nodeAddrString, SD_MAX_NODES, SD_NODE_SIZE, type SdNode } from '../shared/node.js';
import { SD_STATUS } from '../shared/proto/flags.js';
import { oidToVid } from '../shared/oid.js';
import { requestGrowing } from '../shared/grow-reply.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import { decodeVdiState, VDI_STATE_SIZE } from '../shared/proto/vdi-state.js';
import { createClusterDriver } from './cluster/create.js';
import type { ClusterDriver } from './cluster/driver.js';
import { ClusterOps } from './cluster-ops.js';
import { EcIo } from './ec-io.js';
import { Gateway } from './gateway.js';
import { Group, type GroupEvents } from './group.js';
import { StoreLock } from './lock.js';
import { Logger } from './log.js';
import { MetaStore, SD_FORMAT_VERSION, type EpochRecord } from './meta.js';
import type { MetricsServer } from './metrics.js';
import { NbdServer } from './nbd/server.js';
import { clusterOp, lookupOp } from './ops/index.js';
import { SHEEP_VERSION, type SheepOptions } from './options.js';
import { PeerPool } from './peers.js';
import { Server } from './server.js';
import { Stats } from './stats.js';
import { Recovery } from './recovery.js';
import { openStore } from './store/create.js';
import type { MdChange, MdStore } from './store/md.js';
import { ObjectCache } from './store/object-cache.js';
import { parseObjectName } from './store/store.js';
import type { DiskInfo, ObjectStore } from './store/store.js';
import { VdiManager } from './vdi.js';
import { VdiTable } from './vdi-table.js';
import { stageTimesAtExit } from './stage-times.js';

/** Time a peer gets to answer a membership-time request (VDI states at join). */
const JOIN_SYNC_TIMEOUT_MS = 10_000;
/** Longest pause between attempts to join again after the cluster dropped us. */
const REJOIN_PAUSE_MAX_MS = 10_000;
/** How long a stopping sheep waits for requests in flight. */
const DRAIN_TIMEOUT_MS = 10_000;
/** Largest GET_VDI_COPIES buffer we offer before giving up (2^24 VDIs). */
const MAX_VDI_COPIES_BUF = VDI_STATE_SIZE * (1 << 24);
/** Smallest relative change of capacity that REWEIGHT announces (the original's 1%). */
const REWEIGHT_MIN_CHANGE = 0.01;
/** Time a member gets to send an epoch log we lack. */
const EPOCH_FETCH_TIMEOUT_MS = 30_000;

export type { DiskInfo } from './store/store.js';

/**
 * One sheep daemon: owns the rooms (metadata, store, membership, server,
 * gateway, VDI table) and the life cycle. Each room declares the narrow
 * interface it is given (GroupDeps, GatewayDeps, RecoveryInputs, OpContext...)
 * and is handed this object or a small adapter of it; no room imports this
 * file. Nothing else is global.
 */
export class Sheep {
  readonly stats = new Stats();
  readonly peers: PeerPool;
  readonly gateway: Gateway;
  readonly ec: EcIo;
  readonly vdiManager: VdiManager;
  readonly clusterOps: ClusterOps;
  readonly group: Group;
  readonly server: Server;
  readonly recovery: Recovery;
  vdis!: VdiTable;
  meta!: MetaStore;
  store: ObjectStore | undefined;
  /** the multi-disk layer of the store, when the command line named disks */
  md: MdStore | undefined;
  /** -w: the write-back object cache of client I/O */
  cache: ObjectCache | undefined;
  driver!: ClusterDriver;
  /** --nbd / --nbd-unix: the NBD export */
  nbd: NbdServer | undefined;
  /** --metrics: the Prometheus endpoint */
  metrics: MetricsServer | undefined;
  self!: SdNode;
  stopping = false;
  private lock: StoreLock | undefined;
  private exitHooks: (() => Promise<void> | void)[] = [];
  /** the last run ended without a clean shutdown: recover once serving */
  private uncleanStart = false;
  private rejoining = false;

  private constructor(readonly opts: SheepOptions, readonly baseDir: string, readonly log: Logger) {
    this.peers = new PeerPool(log, () => this.self);
    this.gateway = new Gateway(this);
    this.ec = new EcIo(this);
    this.vdiManager = new VdiManager(this);
    this.clusterOps = new ClusterOps(this);
    const sheep = this;
    this.group = new Group({
      log, opts,
      get meta() { return sheep.meta; },
      get self() { return sheep.self; },
      events: this.groupEvents(),
    });
    this.server = new Server(this);
    this.recovery = new Recovery(this);
  }

  /**
   * Bring a sheep up: lock the store directory, open metadata and store, listen,
   * and ask the cluster driver to join. Throws with a message for the user.
   */
  static async start(opts: SheepOptions, baseDir: string): Promise<Sheep> {
    const lock = await StoreLock.acquire(baseDir);
    const log = new Logger({
      level: opts.log.level, dir: opts.log.dir ?? baseDir, format: opts.log.format, dst: opts.log.dst, port: opts.port,
    });
    log.open();
    const s = new Sheep(opts, baseDir, log);
    s.lock = lock;
    try {
      await s.init();
    } catch (e) {
      log.err('main', `start-up failed: ${(e as Error).message}`);
      await s.closeResources();
      throw e;
    }
    return s;
  }

  private async init(): Promise<void> {
    const o = this.opts;
    this.meta = await MetaStore.open(join(this.baseDir, 'meta'), this.baseDir);
    const conf = await this.meta.getConfig();
    this.uncleanStart = conf !== undefined && conf.ctime !== 0n && !conf.shutdown;
    if (conf && conf.version !== SD_FORMAT_VERSION && !o.upgrade) {
      throw new Error(`store format version ${conf.version} is not ours (${SD_FORMAT_VERSION}); start with -u to upgrade`);
    }
    this.vdis = new VdiTable(this.meta);
    await this.vdis.load();
    if (!o.gateway) {
      const tree = conf?.ctime !== 0n && conf?.defaultStore === 'tree';
      const opened = await openStore(o, this.baseDir, this.meta, this.log, (why, left) => this.onDisksChanged(why, left), tree);
      this.store = opened.store;
      this.md = opened.md;
    }
    if (o.cache) {
      this.cache = new ObjectCache(this.gateway, {
        dir: o.cache.dir ?? join(this.baseDir, 'cache'), size: o.cache.size, directIo: o.cache.directIo, log: this.log,
        snapshot: (vid) => this.vdis.get(vid)?.snapshot === true,
      });
      await this.cache.init();
    }
    await this.group.load();
    this.driver = await createClusterDriver(o.cluster, this.log);
    const addr = o.myAddr ?? (await this.driver.localAddr());
    const space = o.gateway ? 0n : await this.nodeSpace(conf?.space ?? 0n);
    this.self = makeNode(addr, o.port, {
      nrVnodes: o.gateway ? 0 : (o.vnodes ?? 128),
      zone: o.zone,
      space,
      ...(o.ioAddr ? { ioAddr: makeNode(o.ioAddr.host, o.ioAddr.port).addr, ioPort: o.ioAddr.port } : {}),
    });
    await this.server.listen();
    this.nbd = await NbdServer.start(this);
    // prom-client is loaded only with --metrics: it costs every other start time
    if (o.metrics) this.metrics = await (await import('./metrics.js')).MetricsServer.start(this);
    stageTimesAtExit(o.port);
    await this.writePidFile();
    this.installSignals();
    await this.driver.start(this.self, this.group.joinPayload(), this.group);
    if (this.cache) void this.cache.pushRecovered(() => this.stopping);
    this.log.info('main', `sheepdog daemon (version ${SHEEP_VERSION}) started as ${nodeAddrString(this.self)}`);
  }

  /**
   * DEL_VDI main part with VID recycling: once a whole VDI family is deleted,
   * every sheep removes what it holds of those VDIs (inodes, objects left
   * behind) and their vids become free.
   */
  async collectVids(vid: number): Promise<void> {
    const family = this.vdis.deletedFamily(vid);
    if (family.length === 0) return;
    const store = this.store;
    if (store) {
      for (const name of [...store.names()]) {
        const ref = parseObjectName(name)!;
        if (!family.includes(oidToVid(ref.oid))) continue;
        await store.remove(ref).catch((e) => {
          if (resultOf(e) !== SD_RES.NO_OBJ) throw e;
        });
      }
    }
    await this.vdis.forget(family);
    this.log.info('vdi', `every VDI of the family of ${vid.toString(16)} is deleted: vids ${family.map((v) => v.toString(16)).join(', ')} are free`);
  }

  /**
   * REWEIGHT main part: announce this node's capacity again when it changed by
   * 1% or more (disks plugged, a filesystem grown); every member then starts a
   * new epoch with the recomputed auto vnodes.
   */
  async reweight(): Promise<void> {
    if (this.opts.gateway || !this.store) return;
    const now = (await this.store.space()).size;
    const old = this.self.space;
    if (old === 0n ? now === 0n : Number(now > old ? now - old : old - now) / Number(old) < REWEIGHT_MIN_CHANGE) return;
    this.self = { ...this.self, space: now };
    const conf = await this.meta.getConfig();
    await this.meta.putConfig({ ...(conf ?? this.configFromCinfo(false)), space: now });
    await this.driver.updateNode(this.self);
  }

  /** The capacity this node announces: remembered from the first start, else free space now. */
  private async nodeSpace(remembered: bigint): Promise<bigint> {
    if (remembered > 0n) return remembered;
    const sp = await this.store!.space();
    const conf = await this.meta.getConfig();
    await this.meta.putConfig({ ...(conf ?? this.configFromCinfo(false)), space: sp.size });
    return sp.size;
  }

  private async writePidFile(): Promise<void> {
    const f = this.opts.pidFile;
    if (!f) return;
    try {
      await fsp.writeFile(f, `${process.pid}\n`, { mode: 0o600 });
    } catch (e) {
      throw new Error(`failed to pid file '${f}' - ${(e as Error).message}`);
    }
    this.exitHooks.push(() => fsp.rm(f, { force: true }));
  }

  private installSignals(): void {
    process.on('SIGTERM', () => void this.stop(0, 'SIGTERM'));
    process.on('SIGINT', () => void this.stop(0, 'SIGINT'));
    process.on('SIGHUP', () => this.log.rotate());
    process.on('SIGPIPE', () => {});
  }

  // --- what the rooms ask of the sheep ----------------------------------------

  /** What Group's events do here. */
  private groupEvents(): GroupEvents {
    return {
      onJoined: () => this.onJoined(),
      onMemberJoined: (node) => this.syncVdiStatesFrom([node]),
      onNotInLatestEpoch: (ownLastEpoch) => this.setAsideAll(ownLastEpoch),
      onFormattedByJoin: async () => { await this.md?.setLayout(this.group.cinfo.defaultStore === 'tree'); },
      saveConfig: () => this.saveConfig(),
      markRunning: () => this.markRunning(),
      onServing: () => this.onServing(),
      onEpochChange: (prevNodes) => this.onEpochChange(prevNodes),
      onMemberLeft: (node) => {
        this.peers.dropPeer(node);
        this.vdis.dropParticipant(node);
      },
      onMessage: (sender, msg, self) => this.clusterOps.deliver(sender, msg, self),
      onMembershipLost: (reason) => {
        if (!this.driver.rejoinable || this.stopping) {
          this.fatal(`cluster membership lost: ${reason}`);
          return;
        }
        void this.rejoin(reason);
      },
      fatal: (msg) => this.fatal(msg),
    };
  }

  /** Run a peer op against our own store without a socket. */
  async peerLocal(hdr: SdHeader, payload?: Buffer, into?: Buffer): Promise<{ hdr: SdHeader; data: Buffer }> {
    const def = lookupOp(hdr.opcode);
    if (!def || def.kind === 'cluster') throw new SdError(SD_RES.INVALID_PARMS, `not a peer op: ${hdr.opcode}`);
    const rsp = SdHeader.responseTo(hdr, SD_RES.SUCCESS, this.group.epoch);
    this.stats.begin(def.kind, hdr.opcode, payload?.length ?? 0);
    let data: Buffer | undefined;
    try {
      data = (await def.handle(this, hdr, payload, rsp, into)) ?? undefined;
    } finally {
      this.stats.end(def.kind, data?.length ?? 0);
    }
    if (rsp.result !== SD_RES.SUCCESS) throw new SdError(rsp.result);
    rsp.epoch = this.group.epoch;
    return { hdr: rsp, data: data ?? Buffer.alloc(0) };
  }

  /** A cluster op issued by this sheep itself (e.g. NOTIFY_VDI_ADD from NEW_VDI's work). */
  async runInternalClusterOp(req: SdHeader, payload?: Buffer): Promise<SdHeader> {
    const def = clusterOp(req.opcode);
    if (!def) throw new SdError(SD_RES.INVALID_PARMS, `not a cluster op: ${req.opcode}`);
    const rsp = SdHeader.responseTo(req, SD_RES.SUCCESS, this.group.epoch);
    await this.clusterOps.run(def, req, payload, rsp);
    if (rsp.result !== SD_RES.SUCCESS) throw new SdError(rsp.result);
    return rsp;
  }

  /**
   * An epoch's members: from our log, else from the first other member that has
   * it, which we then keep (a sheep that was down for some epochs learns them).
   */
  async epochRecord(epoch: number): Promise<EpochRecord | undefined> {
    const local = await this.meta.getEpoch(epoch);
    if (local || epoch < 1) return local;
    for (const n of this.group.members) {
      if (this.peers.isSelf(n)) continue;
      try {
        const req = SdHeader.request(SD_OP.GET_EPOCH, 0, SD_NODE_SIZE * SD_MAX_NODES + 8);
        req.objTgtEpoch = epoch;
        req.epoch = this.group.epoch;
        const rsp = await (await this.peers.peerConn(n)).request(req, undefined, EPOCH_FETCH_TIMEOUT_MS);
        const nodesLen = rsp.data.length - 8;
        if (rsp.hdr.result !== SD_RES.SUCCESS || nodesLen < 0 || nodesLen % SD_NODE_SIZE !== 0) continue;
        const rec = { epoch, nodes: decodeNodes(rsp.data, nodesLen / SD_NODE_SIZE), time: rsp.data.readBigUInt64LE(nodesLen) };
        await this.meta.putEpoch(rec);
        return rec;
      } catch (e) {
        if (!(e instanceof SdError || e instanceof ConnectError)) throw e;
        // try the next member
      }
    }
    return undefined;
  }

  private configFromCinfo(shutdown: boolean) {
    const ci = this.group.cinfo;
    return {
      ctime: ci.ctime, flags: ci.flags, copies: ci.nrCopies, defaultStore: ci.defaultStore, shutdown,
      copyPolicy: ci.copyPolicy, blockSizeShift: ci.blockSizeShift, space: this.self?.space ?? 0n,
    };
  }

  /** Persist the cluster config (after format, join of an unformatted node, copy changes). */
  async saveConfig(shutdown = false): Promise<void> {
    await this.meta.putConfig(this.configFromCinfo(shutdown));
  }

  /** The cluster is serving: a later start is not after a clean shutdown. */
  async markRunning(): Promise<void> {
    const conf = await this.meta.getConfig();
    if (conf?.shutdown) await this.saveConfig(false);
  }

  /** We were accepted: learn the VDIs the others know. */
  async onJoined(): Promise<void> {
    await this.syncVdiStatesFrom(this.group.members.filter((n) => !this.peers.isSelf(n)));
  }

  /** Merge the VDI states of other sheep (GET_VDI_COPIES), skipping ones that do not answer. */
  async syncVdiStatesFrom(nodes: readonly SdNode[]): Promise<void> {
    await Promise.all(nodes.map(async (n) => {
      try {
        const states = await this.fetchVdiStates(n);
        const added = await this.vdis.merge(states);
        if (added > 0) this.log.info('vdi', `learned ${added} VDI states from ${nodeAddrString(n)}`);
      } catch (e) {
        this.log.warn('vdi', `could not fetch VDI states from ${nodeAddrString(n)}: ${(e as Error).message}`);
      }
    }));
  }

  private async fetchVdiStates(n: SdNode) {
    const { reply: r } = await requestGrowing(async (len) => {
      const conn = await this.peers.peerConn(n);
      return conn.request(SdHeader.request(SD_OP.GET_VDI_COPIES, 0, len), undefined, JOIN_SYNC_TIMEOUT_MS);
    }, { first: 512 * VDI_STATE_SIZE, max: MAX_VDI_COPIES_BUF });
    if (r!.hdr.result !== SD_RES.SUCCESS) throw new SdError(r!.hdr.result);
    const out = [];
    for (let at = 0; at + VDI_STATE_SIZE <= r!.data.length; at += VDI_STATE_SIZE) out.push(decodeVdiState(r!.data, at));
    return out;
  }

  /** A new epoch began: recover what this node now owns. */
  onEpochChange(prevNodes: readonly SdNode[]): void {
    this.log.debug('main', `epoch ${this.group.epoch} follows a membership of ${prevNodes.length}`);
    this.uncleanStart = false;
    this.recovery.start(this.group.epoch - 1, true);
  }

  /** The cluster serves without a new epoch: after a crash, check what we own. */
  onServing(): void {
    if (!this.uncleanStart) return;
    this.uncleanStart = false;
    this.recovery.start(this.group.epoch, false);
  }

  /**
   * We join a cluster whose latest epoch does not list us: every local object
   * may have missed writes, so all of them go aside as stale copies (as of our
   * own last epoch) and the ones we own are recovered from the members.
   */
  async setAsideAll(ownLastEpoch: number): Promise<void> {
    const store = this.store;
    if (!store) return;
    let n = 0;
    for (const name of [...store.names()]) {
      const ref = parseObjectName(name);
      if (!ref) continue;
      await store.moveToStale(ref, ownLastEpoch);
      n++;
    }
    if (n > 0) this.log.info('main', `not in the cluster's latest epoch: ${n} local objects set aside as stale`);
  }

  onVdiCopiesChanged(): void {
    this.recovery.start(this.group.epoch, false);
  }

  onRecoveryEnabled(): void {
    this.log.info('main', 'recovery enabled');
  }

  /** STAT_RECOVERY: recovery_state (24 bytes). */
  recoveryState(): Buffer {
    return this.recovery.state();
  }

  /**
   * The md disk set changed (plug, unplug, failure): recover at the current
   * epoch what this node owns but no longer has. Without a disk, leave.
   */
  onDisksChanged(why: MdChange, left: number): void {
    if (left === 0) {
      this.fatal(`no disk left (last one ${why}): leaving the cluster`);
      return;
    }
    this.recovery.start(this.group.epoch, false);
  }

  async diskInfo(): Promise<DiskInfo[]> {
    if (this.md) return this.md.diskInfo();
    if (!this.store) return [];
    const sp = await this.store.space();
    return [{ path: join(this.baseDir, 'obj'), free: sp.free, used: sp.used, objects: this.store.oids().length }];
  }

  /** MAKE_FS main part: wipe objects and VDIs, start epoch 1 with the current members. */
  async format(ci: Parameters<Group['format']>[0]): Promise<void> {
    await this.store?.purge();
    await this.md?.setLayout(ci.defaultStore === 'tree');
    await this.vdis.clear();
    await this.group.format(ci);
    this.log.info('main', `cluster formatted: copies ${ci.nrCopies}, policy ${ci.copyPolicy}, store ${ci.defaultStore}`);
  }

  /** SHUTDOWN main part: stop serving; a later start waits for all members of the last epoch. */
  async clusterShutdown(): Promise<void> {
    this.group.setStatus(SD_STATUS.SHUTDOWN);
    await this.saveConfig(true);
    this.log.info('main', 'cluster shutdown requested');
    setImmediate(() => void this.stop(0, 'cluster shutdown'));
  }

  /** KILL_NODE: this sheep leaves and exits once the reply is out. */
  kill(): void {
    this.group.setStatus(SD_STATUS.KILLED);
    setImmediate(() => void this.stop(0, 'killed by request'));
  }

  /**
   * The cluster dropped us (e.g. our ZooKeeper session expired): stop serving
   * and join again as a new member, retrying with a growing pause. The join
   * sets our data aside if the cluster moved on without us.
   */
  async rejoin(reason: string): Promise<void> {
    if (this.rejoining) return;
    this.rejoining = true;
    this.log.warn('main', `cluster membership lost (${reason}); joining again`);
    this.group.resetMembership();
    this.clusterOps.abandonWaiting(SD_RES.CLUSTER_ERROR);
    this.recovery.abort();
    this.peers.closeAll();
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.driver.start(this.self, this.group.joinPayload(), this.group);
        break;
      } catch (e) {
        this.log.warn('main', `joining again failed: ${(e as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(REJOIN_PAUSE_MAX_MS, 250 * 2 ** attempt)));
      }
    }
    this.rejoining = false;
  }

  /**
   * A bug (a broken invariant, a TypeError): log its stack and exit non-zero at
   * once. No clean stop: the state that would be written back is in doubt.
   */
  crash(what: string, err: unknown): void {
    this.log.err('main', `sheep exits unexpectedly (${what}): ${(err as Error)?.stack ?? err}`);
    this.server.stopListening();
    this.server.closeAll();
    void this.log.close().finally(() => process.exit(1));
  }

  /** An unrecoverable condition: log it and exit non-zero. */
  fatal(msg: string): void {
    this.log.err('main', msg);
    void this.stop(1, msg);
  }

  /** Leave the cluster, finish requests in flight, close everything, exit. */
  async stop(code: number, why: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('main', `stopping (${why})`);
    const hardStop = setTimeout(() => process.exit(code), DRAIN_TIMEOUT_MS * 2);
    hardStop.unref();
    await this.nbd?.close(); // its connections hand back VDI locks while the cluster still answers
    this.server.stopListening();
    await this.server.drain(DRAIN_TIMEOUT_MS);
    await this.cache?.close();
    await this.driver?.leave().catch((e) => this.log.warn('main', `leaving the cluster: ${resultOf(e)}`));
    await this.closeResources();
    process.exit(code);
  }

  private async closeResources(): Promise<void> {
    this.metrics?.close();
    this.server.closeAll();
    this.peers.closeAll();
    await this.driver?.stop().catch(() => {});
    await this.store?.close().catch(() => {});
    await this.meta?.close().catch(() => {});
    for (const hook of this.exitHooks.splice(0)) await Promise.resolve(hook()).catch(() => {});
    await this.log.close();
    this.lock?.release();
  }
}
