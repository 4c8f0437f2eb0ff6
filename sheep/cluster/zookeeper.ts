/**
 * The `zookeeper` cluster driver: the ordered-log engine (engine.ts) on
 * Apache ZooKeeper. `-c zookeeper:HOST:PORT[,HOST:PORT...][/cluster_id][,timeout=MS]`.
 *
 * Znodes under the cluster's base path (`/sheepdog`, or `/cluster_id`):
 *   queue/0000000042   one cluster event each (persistent). Numbers are the
 *                      names, claimed by create-if-absent, so they have no gaps
 *                      (a sequential znode's counter skips after deletes).
 *                      Data: an 8-byte nonce, then the event; after a
 *                      connection loss the nonce tells whether our create won.
 *   resolution/0000000042  how the join at that number was settled; created
 *                      once, first writer wins.
 *   member/<id>        one ephemeral node per running sheep (its engine id):
 *                      it vanishes with the sheep's session. Data: JSON with
 *                      the join number and the process identity (boot id, pid
 *                      namespace, pid, start time), so a sheep on the same
 *                      machine removes the node of a dead process at once,
 *                      instead of the old session keeping a dead sheep listed
 *                      until the server expires it (a fast restart).
 *
 * Session loss: zk-client's watchdog ends the session locally after 2/3 of the
 * session timeout without an answer, before the servers can expire it; the
 * driver then reports handlers.lost, and a later start() joins again with a
 * new session and a new member id.
 */
import { procInfo } from './proc.js';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import { nodeAddrString, type SdNode } from '../../shared/node.js';
import type { Logger } from '../log.js';
import type { ClusterDriver, ClusterHandlers } from './driver.js';
import { LogClusterDriver } from './engine.js';
import type { LogBackend } from './log-backend.js';
import { ZK_ERR, ZkError, ZkSession } from './zk-client.js';

export const DEFAULT_ZK_BASE = '/sheepdog';
export const DEFAULT_ZK_TIMEOUT_MS = 30_000;
const NONCE = 8;
/** ZooKeeper's default jute.maxbuffer is 1 MiB; stay below with room for the request. */
const MAX_EVENT_BYTES = 1024 * 1024 - 4096;
/** Znodes a trim removes at once. */
const TRIM_BATCH = 32;

export interface ZookeeperOptions {
  /** host:port,host:port,... */
  servers: string;
  /** base znode of this cluster */
  base: string;
  /** session timeout asked for (ms) */
  timeoutMs: number;
}

/** Parse the option of `-c zookeeper:OPTION`. */
export function parseZookeeperOption(option: string): ZookeeperOptions {
  let timeoutMs = DEFAULT_ZK_TIMEOUT_MS;
  const hosts: string[] = [];
  let base = DEFAULT_ZK_BASE;
  for (const part of option.split(',')) {
    if (part.startsWith('timeout=')) {
      const v = Number(part.slice('timeout='.length));
      if (!Number.isInteger(v) || v <= 0) throw new SdError(SD_RES.INVALID_PARMS, `invalid zookeeper timeout '${part}'`);
      timeoutMs = v;
      continue;
    }
    let hp = part;
    const slash = part.indexOf('/');
    if (slash >= 0) {
      hp = part.slice(0, slash);
      const id = part.slice(slash + 1);
      if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new SdError(SD_RES.INVALID_PARMS, `invalid zookeeper cluster id '${id}'`);
      base = `/${id}`;
    }
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:/\s]+):\d{1,5}$/.test(hp)) {
      throw new SdError(SD_RES.INVALID_PARMS, `invalid zookeeper server '${hp}' (want HOST:PORT)`);
    }
    hosts.push(hp);
  }
  if (hosts.length === 0) throw new SdError(SD_RES.INVALID_PARMS, 'no zookeeper server given');
  return { servers: hosts.join(','), base, timeoutMs };
}

const seqName = (seq: number) => String(seq).padStart(10, '0');

interface Identity {
  /** /etc/machine-id: the same across reboots */
  machine: string;
  boot: string;
  pidns: string;
  pid: number;
  start: string;
}

interface Registration extends Identity {
  joinSeq: number | null;
  /** every event below this has been read (absent: none reported yet) */
  readSeq?: number;
  /** the sheep's address (ip:port), so a restarted sheep finds its predecessor */
  addr: string | null;
}

/** Who we are on this machine: processes with the same boot id and pid namespace share pids. */
async function selfIdentity(): Promise<Identity> {
  const machine = (await fsp.readFile('/etc/machine-id', 'utf8').catch(() => '')).trim();
  const boot = (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const pidns = await fsp.readlink('/proc/self/ns/pid').catch(() => '');
  const me = await procInfo(process.pid);
  return { machine, boot, pidns, pid: process.pid, start: me?.start ?? '' };
}

/** The LogBackend contract on znodes (see the file comment for the layout). */
export class ZookeeperBackend implements LogBackend {
  private readonly queue: string;
  private readonly res: string;
  private readonly members: string;
  private nextSeq = 0;
  /** our registration's join number, written again with each read position */
  private joinSeq: number | null = null;
  private me: Identity | undefined;
  /** registrations whose join number is known never change: read them once */
  private readonly known = new Map<string, Registration>();
  private changeFns: (() => void)[] = [];
  private closed = false;
  private addr: string | null = null;

  constructor(private readonly zk: ZkSession, readonly base: string, private readonly log?: Logger) {
    this.queue = `${base}/queue`;
    this.res = `${base}/resolution`;
    this.members = `${base}/member`;
  }

  async init(): Promise<void> {
    for (const p of [this.base, this.queue, this.res, this.members]) await this.zk.ensure(p);
    this.me = await selfIdentity();
  }

  private regPath(id: string): string {
    return `${this.members}/${id}`;
  }

  /** Our sheep's address, recorded in the registration. */
  setAddress(addr: string): void {
    this.addr = addr;
  }

  private registration(joinSeq: number | null, readSeq?: number): Buffer {
    return Buffer.from(JSON.stringify({ ...this.me!, joinSeq, readSeq, addr: this.addr } satisfies Registration));
  }

  /**
   * Before registering: a registration under our address belongs to an
   * earlier run of this sheep. One of a dead process of this machine is
   * removed by scan(); one from before this machine restarted is removed
   * here; any other (another machine's, or a live duplicate) is waited for
   * until its session can have expired, and then left to the join rules.
   */
  private async clearPredecessor(): Promise<void> {
    if (!this.addr) return;
    const deadline = Date.now() + this.zk.sessionTimeoutMs + 2000;
    let said = false;
    for (;;) {
      const prev = [...(await this.scan())].filter(([, r]) => r.addr === this.addr);
      if (prev.length === 0) return;
      for (const [id, r] of prev) {
        if (this.me!.machine && r.machine === this.me!.machine && r.boot !== this.me!.boot) {
          this.log?.info('cluster', `removing the registration ${id} of ${r.addr} from before this machine restarted`);
          await this.zk.remove(this.regPath(id));
          this.known.delete(id);
        }
      }
      if (Date.now() > deadline) return;
      if (!said) {
        said = true;
        this.log?.warn('cluster', `${this.addr} is still registered by an earlier session; waiting up to ${this.zk.sessionTimeoutMs} ms for it to expire`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async register(id: string): Promise<void> {
    await this.scan(); // clears what dead processes of this machine left
    await this.clearPredecessor();
    const data = this.registration(null);
    for (;;) {
      try {
        await this.zk.create(this.regPath(id), data, 'ephemeral');
        return;
      } catch (e) {
        if (e instanceof ZkError && e.zkCode === ZK_ERR.NODE_EXISTS) return; // ours, made before a connection loss
        if (!(e instanceof ZkError) || e.zkCode !== ZK_ERR.CONNECTION_LOSS || !this.zk.alive) throw e;
      }
    }
  }

  async setJoinSeq(id: string, seq: number): Promise<void> {
    this.joinSeq = seq;
    await this.zk.setData(this.regPath(id), this.registration(seq));
  }

  async setReadSeq(id: string, seq: number): Promise<void> {
    await this.zk.setData(this.regPath(id), this.registration(this.joinSeq, seq));
  }

  async readSeqs(only?: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const ids = only ?? await this.zk.getChildren(this.members);
    // all at once: a block's holder reads these while the grant waits, and
    // one round trip after another would add N of them to every grant
    const raws = await Promise.all(ids.map((id) => this.zk.getData(this.regPath(id))));
    ids.forEach((id, i) => {
      const raw = raws[i];
      if (!raw) return; // gone meanwhile
      try {
        const r = JSON.parse(raw.toString()) as Registration;
        const at = r.readSeq ?? r.joinSeq;
        if (at !== null && at !== undefined) out.set(id, at);
      } catch {
        // not a registration we can read: left out, like one that is gone
      }
    });
    return out;
  }

  async alive(): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    for (const [id, r] of await this.scan()) out.set(id, r.joinSeq ?? undefined);
    return out;
  }

  /** Live registrations; those of dead processes of this machine are removed on the way. */
  private async scan(): Promise<Map<string, Registration>> {
    const out = new Map<string, Registration>();
    const ids = await this.zk.getChildren(this.members);
    for (const id of [...this.known.keys()]) if (!ids.includes(id)) this.known.delete(id);
    for (const id of ids) {
      let r = this.known.get(id);
      if (!r) {
        const raw = await this.zk.getData(this.regPath(id));
        if (!raw) continue; // gone meanwhile
        try {
          r = JSON.parse(raw.toString()) as Registration;
        } catch {
          continue;
        }
        if (r.joinSeq !== null) this.known.set(id, r);
      }
      if (await this.deadHere(r)) {
        this.log?.info('cluster', `removing the registration ${id} of dead process ${r.pid} on this machine`);
        await this.zk.remove(this.regPath(id));
        this.known.delete(id);
        continue;
      }
      out.set(id, r);
    }
    return out;
  }

  /** A registration made by a process of this machine that no longer runs. */
  private async deadHere(r: Registration): Promise<boolean> {
    const me = this.me!;
    if (!me.boot || !me.pidns || r.boot !== me.boot || r.pidns !== me.pidns) return false;
    if (r.pid === me.pid && r.start === me.start) return false;
    const p = await procInfo(r.pid);
    return !p || !p.running || p.start !== r.start;
  }

  async unregister(id: string): Promise<void> {
    this.known.delete(id);
    await this.zk.remove(this.regPath(id));
  }

  async maxSeq(): Promise<number> {
    let max = 0;
    for (const name of await this.zk.getChildren(this.queue)) {
      if (/^\d{10}$/.test(name)) max = Math.max(max, Number(name));
    }
    return max;
  }

  async append(data: Buffer): Promise<number> {
    if (data.length + NONCE > MAX_EVENT_BYTES) {
      throw new SdError(SD_RES.CLUSTER_ERROR, `cluster message of ${data.length} bytes is larger than ZooKeeper takes`);
    }
    const nonce = randomBytes(NONCE);
    const payload = Buffer.concat([nonce, data]);
    if (this.nextSeq === 0) this.nextSeq = (await this.maxSeq()) + 1;
    let seq = this.nextSeq;
    let lookedUp = false;
    for (;;) {
      const path = `${this.queue}/${seqName(seq)}`;
      try {
        await this.zk.create(path, payload, 'persistent');
        this.nextSeq = Math.max(this.nextSeq, seq + 1);
        return seq;
      } catch (e) {
        if (!(e instanceof ZkError)) throw e;
        if (e.zkCode === ZK_ERR.NODE_EXISTS) {
          // our guess is behind (we read slower than others append): go past the
          // end at once, not one failed create per event (every number up to the
          // end is taken, so this leaves no gap); then race the others one by one
          if (!lookedUp) {
            lookedUp = true;
            seq = Math.max(seq + 1, (await this.maxSeq()) + 1);
          } else {
            seq++;
          }
          continue;
        }
        if (e.zkCode !== ZK_ERR.CONNECTION_LOSS || !this.zk.alive) throw e;
        // did our create get through before the connection went?
        const there = await this.zk.getData(path);
        if (!there) continue;
        if (there.subarray(0, NONCE).equals(nonce)) {
          this.nextSeq = Math.max(this.nextSeq, seq + 1);
          return seq;
        }
        seq++;
      }
    }
  }

  async read(seq: number): Promise<Buffer | undefined> {
    const b = await this.zk.getData(`${this.queue}/${seqName(seq)}`);
    if (!b) return undefined;
    if (seq >= this.nextSeq) this.nextSeq = seq + 1;
    return b.subarray(NONCE);
  }

  async resolve(seq: number, data: Buffer): Promise<Buffer> {
    const path = `${this.res}/${seqName(seq)}`;
    for (;;) {
      try {
        await this.zk.create(path, data, 'persistent');
        return data;
      } catch (e) {
        if (!(e instanceof ZkError)) throw e;
        if (e.zkCode !== ZK_ERR.NODE_EXISTS && (e.zkCode !== ZK_ERR.CONNECTION_LOSS || !this.zk.alive)) throw e;
        // whatever is there won (ours, if our create got through)
        const there = await this.zk.getData(path);
        if (there) return there;
      }
    }
  }

  readResolution(seq: number): Promise<Buffer | undefined> {
    return this.zk.getData(`${this.res}/${seqName(seq)}`);
  }

  async trim(belowSeq: number): Promise<void> {
    for (const dir of [this.queue, this.res]) {
      const gone = (await this.zk.getChildren(dir)).filter((name) => /^\d{10}$/.test(name) && Number(name) < belowSeq);
      // a few at a time: one by one, a few hundred removals took over a minute on a loaded server
      for (let i = 0; i < gone.length; i += TRIM_BATCH) {
        await Promise.all(gone.slice(i, i + TRIM_BATCH).map((name) => this.zk.remove(`${dir}/${name}`)));
      }
    }
  }

  onChange(fn: () => void): void {
    this.changeFns.push(fn);
    if (this.changeFns.length === 1) {
      for (const dir of [this.queue, this.res, this.members]) this.watchChildren(dir);
    }
  }

  /** A child watch, armed again each time it fires (ZooKeeper watches fire once). */
  private watchChildren(dir: string): void {
    if (this.closed || !this.zk.alive) return;
    this.zk.getChildren(dir, () => {
      for (const f of this.changeFns) f();
      this.watchChildren(dir);
    }).catch(() => { /* the session ended; the engine polls as well */ });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.changeFns = [];
  }
}

function firstExternalIPv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * The driver sheep gets. Each start() runs one session with one engine; when
 * the session is lost the engine stops, handlers.lost is called once, and the
 * sheep may start() again to rejoin as a new member.
 */
export class ZookeeperDriver implements ClusterDriver {
  readonly name = 'zookeeper';
  readonly rejoinable = true;
  private session: ZkSession | undefined;
  private engine: LogClusterDriver | undefined;
  private lostReported = false;

  constructor(private readonly o: ZookeeperOptions, private readonly log: Logger) {}

  private async connect(): Promise<ZkSession> {
    if (this.session?.alive) return this.session;
    this.session = await ZkSession.connect({
      servers: this.o.servers,
      sessionTimeoutMs: this.o.timeoutMs,
      log: (level, msg) => this.log[level]('cluster', msg),
    });
    this.log.info('cluster', `zookeeper: session ${this.session.sessionId} on ${this.o.servers}, timeout ${this.session.sessionTimeoutMs} ms, base ${this.o.base}`);
    return this.session;
  }

  async localAddr(): Promise<string> {
    const s = await this.connect();
    const a = s.localAddress();
    return a && a !== '0.0.0.0' ? a : firstExternalIPv4();
  }

  /** True while our session is certainly valid on the servers: serve I/O only then. */
  canServe(): boolean {
    return !!this.engine && !this.lostReported && !!this.session?.leaseValid();
  }

  async start(self: SdNode, joinPayload: Buffer, handlers: ClusterHandlers): Promise<void> {
    const session = await this.connect();
    const backend = new ZookeeperBackend(session, this.o.base, this.log);
    await backend.init();
    backend.setAddress(nodeAddrString(self));
    this.lostReported = false;
    let reported = false;
    const report = (reason: string) => {
      if (reported) return;
      reported = true;
      this.lostReported = true;
      handlers.lost(reason);
    };
    const engine = new LogClusterDriver('zookeeper', backend, this.log, async () => this.localAddr());
    this.engine = engine;
    session.onLost((reason) => {
      report(`zookeeper session lost: ${reason}`);
      void engine.stop().catch(() => {});
    });
    const wrapped: ClusterHandlers = {
      join: (n, m, p) => handlers.join(n, m, p),
      accept: (n, m, p, me) => handlers.accept(n, m, p, me),
      leave: (n, m) => handlers.leave(n, m),
      notify: (n, msg, me) => handlers.notify(n, msg, me),
      updateNode: (n, m) => handlers.updateNode(n, m),
      lost: report,
    };
    await engine.start(self, joinPayload, wrapped);
  }

  private live(): LogClusterDriver {
    if (!this.engine || this.lostReported) throw new SdError(SD_RES.CLUSTER_ERROR, 'not in a zookeeper cluster (session lost)');
    return this.engine;
  }

  async notify(msg: Buffer): Promise<void> {
    return this.live().notify(msg);
  }

  async block(): Promise<void> {
    return this.live().block();
  }

  async unblock(msg: Buffer): Promise<void> {
    return this.live().unblock(msg);
  }

  async updateNode(node: SdNode): Promise<void> {
    return this.live().updateNode(node);
  }

  blockState(): string {
    return this.engine ? this.engine.blockState() : 'no engine';
  }

  async leave(): Promise<void> {
    if (this.engine && !this.lostReported) await this.engine.leave();
  }

  async stop(): Promise<void> {
    const engine = this.engine;
    this.engine = undefined;
    await engine?.stop().catch((e) => this.log.warn('cluster', `stopping the zookeeper engine: ${(e as Error).message}`));
    await this.session?.close();
    this.session = undefined;
  }
}

export async function createZookeeperDriver(option: string, log: Logger): Promise<ZookeeperDriver> {
  return new ZookeeperDriver(parseZookeeperOption(option), log);
}
