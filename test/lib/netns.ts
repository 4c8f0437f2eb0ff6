/**
 * Hosts in network namespaces for fault tests: HOSTS namespaces, each with one
 * veth port on a bridge that lives in a namespace of its own. Every address
 * exists only inside these namespaces; clients run inside one with
 * `ip netns exec`. A host's link can be taken down (a silent partition of one
 * host), or hosts moved to a second bridge (a partition into two sides that
 * each still talk among themselves). Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DOG, forgetPid, pidAlive, recordPid, run, SHEEP, waitFor, type RunResult } from './cluster.js';
import { zookeeperMissing } from './zookeeper.js';

/** Our namespaces carry this prefix and our PID, so a later run can tell a dead run's leftovers. */
const PREFIX = 'sdnt';

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Remove namespaces that an earlier run left behind when it died. */
function removeDeadRunsLeftovers(): void {
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!);
  } catch {
    return;
  }
  for (const n of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)(-[a-z0-9]+)?-(sw|h\\d+)$`).exec(n);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      try { ip('netns', 'del', n); } catch { /* gone */ }
    }
  }
}

/** Why namespaces (and ZooKeeper) cannot be used here, or undefined. */
export function netnsMissing(): string | undefined {
  const zkm = zookeeperMissing();
  if (zkm) return zkm;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'the ip command (iproute2) is missing';
  }
  removeDeadRunsLeftovers();
  const probe = `${PREFIX}${process.pid}-probe`;
  try {
    ip('netns', 'add', probe);
    ip('-n', probe, 'link', 'add', 'br0', 'type', 'bridge');
  } catch (e) {
    return `network namespaces are not permitted here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()})`;
  } finally {
    try { ip('netns', 'del', probe); } catch { /* not made */ }
  }
  return undefined;
}

export class NetnsHosts {
  private readonly created: string[] = [];
  private readonly tag: string;
  private readonly onExit = () => this.teardown();

  /** @param name a few letters that tell this network from others of the same process */
  constructor(readonly hosts: number, readonly subnet: string, name = '') {
    this.tag = `${PREFIX}${process.pid}${name ? `-${name}` : ''}`;
    process.on('exit', this.onExit);
  }

  get bridgeNs(): string {
    return `${this.tag}-sw`;
  }

  ns(i: number): string {
    return `${this.tag}-h${i}`;
  }

  ip(i: number): string {
    return `${this.subnet}.${i + 1}`;
  }

  /** The bridges (br0, and br1 for partitions) and every host's namespace with its port on br0. */
  build(): void {
    // (again after a teardown, which drops it)
    process.off('exit', this.onExit);
    process.on('exit', this.onExit);
    const sw = this.bridgeNs;
    ip('netns', 'add', sw);
    this.created.push(sw);
    for (const br of ['br0', 'br1']) {
      ip('-n', sw, 'link', 'add', br, 'type', 'bridge');
      ip('-n', sw, 'link', 'set', br, 'up');
    }
    for (let i = 0; i < this.hosts; i++) {
      const ns = this.ns(i);
      ip('netns', 'add', ns);
      this.created.push(ns);
      // made inside the bridge's namespace, the peer moved straight into the host's
      ip('-n', sw, 'link', 'add', `port${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('-n', sw, 'link', 'set', `port${i}`, 'master', 'br0');
      ip('-n', sw, 'link', 'set', `port${i}`, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${this.ip(i)}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
  }

  /** Host i's link up or down (down: it hears nothing and nobody hears it). */
  setLink(i: number, up: boolean): void {
    ip('-n', this.bridgeNs, 'link', 'set', `port${i}`, up ? 'up' : 'down');
  }

  /** Put `side` on a bridge of its own: the two sides each talk among themselves, not to the other. */
  partition(side: readonly number[]): void {
    for (const i of side) ip('-n', this.bridgeNs, 'link', 'set', `port${i}`, 'master', 'br1');
  }

  /** Every host back on one bridge. */
  heal(): void {
    for (let i = 0; i < this.hosts; i++) ip('-n', this.bridgeNs, 'link', 'set', `port${i}`, 'master', 'br0');
  }

  teardown(): void {
    for (const n of this.created.splice(0).reverse()) {
      try { ip('netns', 'del', n); } catch { /* gone */ }
    }
    process.off('exit', this.onExit);
  }
}

/** Sheep on the hosts of a NetnsHosts, one per host, on a ZooKeeper ensemble; recorded by PID. */
export class NetnsSheep {
  readonly pids = new Map<number, number>();

  /**
   * @param zk the `-c zookeeper:` servers (host:port list)
   * @param args more sheep arguments (-n, ...)
   */
  constructor(
    readonly net: NetnsHosts, readonly root: string, readonly port: number,
    private readonly zk: string, private readonly sessionMs: number, private readonly args: readonly string[] = [],
  ) {}

  dir(i: number): string {
    return join(this.root, `sheep${i}`);
  }

  async start(i: number): Promise<void> {
    const pidFile = join(this.root, `sheep${i}.pid`);
    rmSync(pidFile, { force: true });
    const r = await run('ip', ['netns', 'exec', this.net.ns(i), SHEEP, this.dir(i), '-c', `zookeeper:${this.zk},timeout=${this.sessionMs}`,
      '-p', String(this.port), '-z', String(i), '-P', pidFile, ...this.args], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`sheep ${i} failed to start (${r.code}): ${r.stderr}`);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    this.pids.set(i, pid);
    recordPid(`netns-sheep${i}`, pid);
  }

  /** dog, run inside host i's namespace against that host's sheep. */
  dog(i: number, args: readonly string[], input?: Buffer, timeoutMs = 60_000): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.net.ns(i), DOG, ...args], {
      input,
      env: { SHEEPDOG_DOG_ADDR: this.net.ip(i), SHEEPDOG_DOG_PORT: String(this.port) },
      timeoutMs,
    });
  }

  /** Members as sheep i lists them (-1 when it does not answer). */
  async members(i: number): Promise<number> {
    const r = await this.dog(i, ['node', 'list', '-r']);
    return r.code === 0 ? r.out.trim().split('\n').filter(Boolean).length : -1;
  }

  /** SIGKILL every sheep and wait for each to be gone. */
  async killAll(): Promise<void> {
    for (const [i, pid] of this.pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await waitFor('sheep to die', () => !pidAlive(pid), 10_000, 50).catch(() => {});
      forgetPid(`netns-sheep${i}`, pid);
    }
    this.pids.clear();
  }

  /** The same, synchronously (at exit). */
  killAllSync(): void {
    for (const [i, pid] of this.pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      forgetPid(`netns-sheep${i}`, pid);
    }
    this.pids.clear();
  }
}
