/**
 * The state of one dog run: where the daemon is, the global flags, the family
 * option values, one cached connection per sheep, and (for commands flagged
 * NEED_NODELIST) the cluster's node list and epoch.
 */
import { SheepConnection, ConnectError, type Reply } from '../shared/client.js';
import { decodeNodes, compareNodes, SD_MAX_NODES, SD_NODE_SIZE, type SdNode, addrToString } from '../shared/node.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../shared/proto/results.js';
import { EXIT, ExitNow } from './exit.js';
import { err } from './output.js';
import { defaultOptionValues, type OptionValues } from './option-values.js';
import type { OutputFormat } from './json.js';

export interface Target {
  /** numeric address, as messages print it */
  host: string;
  port: number;
}

/**
 * How long a reply may take. The original sets a 30 s receive timeout and
 * retries a few times before giving up; a dead or stuck sheep must not hang
 * dog for ever.
 */
export const RECV_TIMEOUT_MS = 90_000;
/** The original gives connect() its 5 s send timeout. */
export const CONNECT_TIMEOUT_MS = 5_000;

const targetKey = (t: Target): string => `${t.host}:${t.port}`;

export class Dog {
  target: Target = { host: '127.0.0.1', port: 7000 };
  raw = false;
  verbose = false;
  showTime = false;
  /** --format: text (the original's) or json */
  format: OutputFormat = 'text';
  opts: OptionValues = defaultOptionValues();
  recvTimeoutMs = RECV_TIMEOUT_MS;

  get json(): boolean {
    return this.format === 'json';
  }

  /** Filled by loadNodeList(): members sorted by (address, port). */
  nodes: SdNode[] = [];
  epoch = 0;
  /** distinct zones among all members, gateways included */
  zones = 0;
  /** cluster flags from the newest epoch log (DISKMODE...) */
  clusterFlags = 0;

  private readonly conns = new Map<string, Promise<SheepConnection | undefined>>();

  /** The connection to a sheep, made on first use. Connect failures are reported here. */
  private connection(to: Target): Promise<SheepConnection | undefined> {
    const key = targetKey(to);
    const cached = this.conns.get(key);
    if (cached) return cached;
    const p = this.connect(to).then((c) => {
      if (!c) this.conns.delete(key);
      else c.onClose(() => { if (this.conns.get(key) === p) this.conns.delete(key); });
      return c;
    });
    this.conns.set(key, p);
    return p;
  }

  /**
   * The original tries a cached long connection, then a plain one, and each
   * failed attempt prints its own line: so a dead daemon shows the message twice.
   */
  private async connect(to: Target): Promise<SheepConnection | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await SheepConnection.connect({ host: to.host, port: to.port }, CONNECT_TIMEOUT_MS);
      } catch (e) {
        const reason = e instanceof ConnectError ? e.reason : String((e as Error).message);
        err(`failed to connect to ${to.host}:${to.port}: ${reason}`);
      }
    }
    return undefined;
  }

  /**
   * Send one request and wait for its reply (dog_exec_req). undefined means the
   * exchange itself failed; the reason has been printed. Many calls may be in
   * flight at once on the same connection. `into`: a buffer for the reply
   * payload (SheepConnection.request), the caller's again once this returns.
   */
  async exec(req: SdHeader, payload?: Buffer, to: Target = this.target, into?: Buffer): Promise<Reply | undefined> {
    const conn = await this.connection(to);
    if (!conn) return undefined;
    try {
      return await conn.request(req, payload, this.recvTimeoutMs, into);
    } catch (e) {
      // every request pending on a broken connection fails; say so once
      if (!lostReported.has(conn)) {
        lostReported.add(conn);
        err(lostText(e, conn));
      }
      this.conns.delete(targetKey(to));
      return undefined;
    }
  }

  /** Where to reach a member (its I/O address when it has one, as the original's sockfd cache). */
  nodeTarget(n: SdNode): Target {
    if (n.ioPort !== 0) return { host: addrToString(n.ioAddr), port: n.ioPort };
    return { host: addrToString(n.addr), port: n.port };
  }

  /**
   * update_node_list: GET_NODE_LIST, then STAT_CLUSTER for the epoch and the
   * cluster flags. Failures end dog the way the original does.
   */
  async loadNodeList(): Promise<void> {
    const failed: () => never = () => {
      err('Failed to get node list');
      throw new ExitNow(EXIT.SYSFAIL);
    };
    const r = await this.exec(SdHeader.request(SD_OP.GET_NODE_LIST, 0, SD_MAX_NODES * SD_NODE_SIZE));
    if (!r) failed();
    if (r.hdr.result !== SD_RES.SUCCESS) {
      err(`Failed to update node list: ${resultText(r.hdr.result)}`);
      failed();
    }
    const count = Math.floor(r.data.length / SD_NODE_SIZE);
    if (count === 0) {
      err('There are no active sheep daemons');
      throw new ExitNow(EXIT.FAILURE);
    }
    this.nodes = decodeNodes(r.data, count).sort(compareNodes);
    this.zones = new Set(this.nodes.map((n) => n.zone)).size;

    const st = SdHeader.request(SD_OP.STAT_CLUSTER, 0, EPOCH_LOG_SIZE);
    st.clusterNodesNr = 0;
    const s = await this.exec(st);
    if (!s) failed();
    this.epoch = s.hdr.epoch;
    this.clusterFlags = s.data.length >= EPOCH_LOG_SIZE ? s.data.readUInt16LE(30) : 0;
  }

  /** Close every connection (sockets would otherwise keep the process alive). */
  closeAll(): void {
    for (const p of this.conns.values()) p.then((c) => c?.close(), () => {});
    this.conns.clear();
  }
}

const EPOCH_LOG_SIZE = 48;

/**
 * The original's wording: a reply header that arrived but does not belong to
 * us (something else answers on that port) ends while it reads "the response
 * data"; anything else (closed, reset, timed out) fails reading "a response".
 */
function lostText(e: unknown, conn: SheepConnection): string {
  const msg = e instanceof Error ? e.message : '';
  // SheepConnection does not say whether it died inside a reply's payload; its
  // frame reader knows (a header is pending). Asking shared/ to expose this.
  const reader = (conn as unknown as { reader?: { hdr?: unknown } }).reader;
  const inPayload = reader?.hdr !== undefined && reader?.hdr !== null;
  return msg.includes('unknown id') || inPayload ? 'failed to read the response data' : 'failed to read a response';
}
const lostReported = new WeakSet<SheepConnection>();
