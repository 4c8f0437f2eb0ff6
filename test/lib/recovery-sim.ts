/**
 * Several members' Recovery in one process: each with a real plain store in a
 * temporary directory, one shared membership (epochs, ring, who is alive), and
 * peers that answer GET_OBJ_LIST and recovery READ_PEER from the other
 * members' stores the way the peer ops do (a live copy, else a stale copy
 * moved aside at the asked epoch or later). COMPLETE_RECOVERY reaches every
 * member's Recovery in order, as the cluster op's main part does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SdError } from '../../shared/errors.js';
import { compareNodes, decodeNode, makeNode, nodeKey, sameNode, type SdNode } from '../../shared/node.js';
import { VnodeRing } from '../../shared/placement.js';
import type { ClusterInfo } from '../../shared/proto/cluster-info.js';
import { SD_FLAG, SD_STATUS } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP, SD_SHEEP_PROTO_VER } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Logger } from '../../sheep/log.js';
import type { PeerLink, Peers } from '../../sheep/peers.js';
import type { MembershipView } from '../../sheep/ports.js';
import { Recovery, type RecoveryInputs } from '../../sheep/recovery.js';
import { PlainStore } from '../../sheep/store/plain.js';

const quiet = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });

/** Object size in the simulation (small: the point is who holds what). */
export const SIM_OBJ_SIZE = 16 * 1024;
export const SIM_COPIES = 2;

/** The bytes of an object: its id in the first block, zeros after (a sparse tail). */
export function objectBytes(oid: bigint): Buffer {
  const b = Buffer.alloc(SIM_OBJ_SIZE);
  for (let at = 0; at < 4096; at += 8) b.writeBigUInt64LE(oid ^ BigInt(at), at);
  return b;
}

/** The membership every member sees (one cluster, one epoch at a time). */
class SimMembership implements MembershipView {
  epoch = 0;
  status: number = SD_STATUS.OK;
  ring = new VnodeRing([]);
  members: SdNode[] = [];
  cinfo: ClusterInfo = {
    protoVer: SD_SHEEP_PROTO_VER, disableRecovery: false, epoch: 0, ctime: 1n, flags: 0,
    nrCopies: SIM_COPIES, copyPolicy: 0, status: SD_STATUS.OK, blockSizeShift: 22, defaultStore: 'plain', nodes: [],
  };

  effective(nodes: readonly SdNode[]): SdNode[] {
    return [...nodes].sort(compareNodes);
  }
}

export class SimMember {
  readonly recovery: Recovery;
  /** COMPLETE_RECOVERY reports this member sent, by epoch */
  readonly reported: number[] = [];

  constructor(readonly node: SdNode, readonly store: PlainStore, private readonly sim: RecoverySim) {
    const peers: Peers = {
      ioTarget: () => { throw new Error('not used'); },
      peerConn: async (n) => sim.link(n),
      readyPeerConn: () => undefined,
      dropPeer: () => {},
      isSelf: (n) => sameNode(n, node),
    };
    const inputs: RecoveryInputs = {
      log: quiet, group: sim.view, store, peers, self: node, stopping: false, opts: { recovery: undefined },
      gateway: { objSize: () => SIM_OBJ_SIZE, copies: (_oid, requested) => requested || SIM_COPIES, copyPolicy: () => 0 },
      ec: { rebuildStrip: async () => { throw new Error('no erasure-coded objects here'); } },
      vdis: { all: () => [] },
      epochRecord: async (e) => {
        const nodes = sim.epochs.get(e);
        return nodes ? { epoch: e, nodes, time: 0n } : undefined;
      },
      runInternalClusterOp: async (req, payload) => {
        this.reported.push(req.objTgtEpoch);
        await sim.completeRecovery(decodeNode(payload!), req.objTgtEpoch);
        return SdHeader.responseTo(req, SD_RES.SUCCESS, sim.view.epoch);
      },
    };
    this.recovery = new Recovery(inputs);
  }

  get port(): number {
    return this.node.port;
  }
}

export class RecoverySim {
  readonly view = new SimMembership();
  readonly epochs = new Map<number, SdNode[]>();
  readonly members = new Map<number, SimMember>();
  /** members whose requests fail (stopped, unreachable), by port */
  readonly down = new Set<number>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'recovery-sim-'));

  async add(port: number): Promise<SimMember> {
    const node = makeNode('127.0.0.1', port, { nrVnodes: 64, zone: port });
    const store = new PlainStore({ dir: join(this.dir, String(port)), nosync: true, log: quiet });
    await store.init(1);
    const m = new SimMember(node, store, this);
    this.members.set(port, m);
    return m;
  }

  get(port: number): SimMember {
    return this.members.get(port)!;
  }

  /** A new epoch whose members are `ports` (alive: those not down). */
  setEpoch(ports: number[]): number {
    const nodes = ports.map((p) => this.get(p).node).sort(compareNodes);
    const epoch = this.view.epoch + 1;
    this.epochs.set(epoch, nodes);
    this.view.epoch = epoch;
    this.view.cinfo = { ...this.view.cinfo, epoch, nodes };
    this.view.ring = new VnodeRing(this.view.effective(nodes));
    this.view.members = nodes.filter((n) => !this.down.has(n.port));
    return epoch;
  }

  holders(oid: bigint, epoch = this.view.epoch): number[] {
    return new VnodeRing(this.view.effective(this.epochs.get(epoch)!)).holders(oid, SIM_COPIES).map((n) => n.port);
  }

  /** Write an object to its holders of the current epoch, as the gateway would. */
  async write(oid: bigint): Promise<void> {
    const data = objectBytes(oid);
    for (const p of this.holders(oid)) await this.get(p).store.create({ oid, ec: undefined }, 0, data, SIM_OBJ_SIZE, this.view.epoch);
  }

  /** Every member of the current epoch starts recovering it (looking back from the one before). */
  startAll(): void {
    for (const n of this.view.cinfo.nodes) {
      if (!this.down.has(n.port)) this.get(n.port).recovery.start(this.view.epoch - 1, true);
    }
  }

  /** The connection to a member: its peer ops as the recovery path uses them. */
  link(n: SdNode): PeerLink {
    const target = this.members.get(n.port);
    return {
      request: async (req: SdHeader) => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!target || this.down.has(n.port)) throw new SdError(SD_RES.NETWORK_ERROR, `${n.port} is down`);
        const rsp = SdHeader.responseTo(req, SD_RES.SUCCESS, this.view.epoch);
        const reply = (data: Buffer) => ({ hdr: rsp, data });
        const store = target.store;
        if (req.opcode === SD_OP.GET_OBJ_LIST) {
          const oids = [...new Set([...store.oids(), ...store.staleOids()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          if (8 * oids.length > req.dataLength) {
            rsp.result = SD_RES.BUFFER_SMALL;
            return reply(Buffer.alloc(0));
          }
          const b = Buffer.alloc(8 * oids.length);
          oids.forEach((o, i) => b.writeBigUInt64LE(o, 8 * i));
          return reply(b);
        }
        if (req.opcode === SD_OP.READ_PEER && (req.flags & SD_FLAG.CMD_RECOVERY) !== 0) {
          const ref = { oid: req.objOid, ec: undefined };
          if (store.exists(ref)) return reply(await store.read(ref, req.objOffset, req.dataLength));
          const tag = store.staleEpoch(ref);
          if (tag === undefined || tag < req.objTgtEpoch) {
            rsp.result = SD_RES.NO_OBJ;
            return reply(Buffer.alloc(0));
          }
          return reply(await store.readStale(ref, tag, req.objOffset, req.dataLength));
        }
        throw new Error(`the simulation does not serve opcode ${req.opcode}`);
      },
    };
  }

  /** COMPLETE_RECOVERY main part on every live member, in member order. */
  async completeRecovery(node: SdNode, epoch: number): Promise<void> {
    for (const n of this.view.cinfo.nodes) {
      if (!this.down.has(n.port)) await this.get(n.port).recovery.completed(node, epoch);
    }
  }

  /** Wait until no live member recovers (real time: the stores are real). */
  async settled(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.members.values()].some((m) => !this.down.has(m.port) && m.recovery.active)) {
      if (Date.now() > deadline) throw new Error('recovery did not finish');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    for (const m of this.members.values()) {
      m.recovery.abort();
      await m.store.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  key(port: number): string {
    return nodeKey(this.get(port).node);
  }
}
