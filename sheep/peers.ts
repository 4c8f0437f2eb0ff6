import { ConnectError, ConnectionPool, type Reply, type Target } from '../shared/client.js';
import { addrToString, nodeAddrString, nodeIoTarget, nodeKey, sameNode, type SdNode } from '../shared/node.js';
import type { SdHeader } from '../shared/proto/header.js';
import type { Logger } from './log.js';

/** How long an unreachable I/O address is passed over before it is tried again. */
const IO_ADDR_RETRY_MS = 30_000;

/** What a part sends a peer request over: one request, matched reply. */
export interface PeerLink {
  /** `into`: a buffer for the reply payload (SheepConnection.request) */
  request(req: SdHeader, payload?: Buffer, timeoutMs?: number, into?: Buffer): Promise<Reply>;
}

/**
 * The other sheep as the parts of the daemon see them: a connection per peer
 * (data traffic goes to its I/O address when it has one), and who is this
 * sheep itself. Gateway, recovery, EC and the disk-full check share one.
 */
export interface Peers {
  /** The data-traffic target of a peer: its I/O address (-i), else its main one. */
  ioTarget(node: SdNode): Target;
  /** A connection for data traffic to a peer (see PeerPool.peerConn). */
  peerConn(node: SdNode): Promise<PeerLink>;
  /** The connection peerConn() would give, when it is up already and no choice is pending. */
  readyPeerConn(node: SdNode): PeerLink | undefined;
  /** Drop the connections to a departed peer. */
  dropPeer(node: SdNode): void;
  isSelf(node: SdNode): boolean;
}

/** Peers over a connection pool; `self` is read at each call (REWEIGHT replaces it). */
export class PeerPool implements Peers {
  readonly pool = new ConnectionPool();
  /** peers whose I/O address refused us, and when */
  private readonly ioDown = new Map<string, number>();

  constructor(private readonly log: Logger, private readonly self: () => SdNode) {}

  ioTarget(node: SdNode): Target {
    return nodeIoTarget(node);
  }

  /**
   * A connection for data traffic to a peer: its I/O address (-i) when it has
   * one, else its main address. An I/O address that refuses connections is
   * passed over for a while in favour of the main one.
   */
  async peerConn(node: SdNode): Promise<PeerLink> {
    const main = { host: addrToString(node.addr), port: node.port };
    if (node.ioPort === 0) return this.pool.get(main);
    const key = nodeKey(node);
    const failedAt = this.ioDown.get(key);
    if (failedAt !== undefined && Date.now() - failedAt < IO_ADDR_RETRY_MS) return this.pool.get(main);
    try {
      const c = await this.pool.get(this.ioTarget(node));
      this.ioDown.delete(key);
      return c;
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      if (failedAt === undefined) this.log.warn('main', `I/O address of ${nodeAddrString(node)} unreachable (${e.message}); using its main address`);
      this.ioDown.set(key, Date.now());
      return this.pool.get(main);
    }
  }

  readyPeerConn(node: SdNode): PeerLink | undefined {
    if (node.ioPort !== 0) return undefined;
    return this.pool.ready({ host: addrToString(node.addr), port: node.port });
  }

  dropPeer(node: SdNode): void {
    this.pool.drop(this.ioTarget(node));
    this.pool.drop({ host: addrToString(node.addr), port: node.port });
  }

  isSelf(node: SdNode): boolean {
    return sameNode(node, this.self());
  }

  closeAll(): void {
    this.pool.closeAll();
  }
}
