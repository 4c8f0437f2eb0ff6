/**
 * Real ZooKeeper servers for tests, from Debian's `zookeeper` package: a
 * standalone server or a 3-server ensemble, each with its own temp data dir,
 * conf and ports, optionally inside a network namespace (`ip netns exec`).
 * Every server is recorded by PID (the runner kills leftovers) and stopped by
 * PID; nothing is ever stopped by name.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgetPid, freePorts, pidAlive, recordPid, run, waitFor } from './cluster.js';

export const ZK_JAR = '/usr/share/java/zookeeper.jar';
/** zookeeper.jar's manifest names its own dependencies; slf4j-simple gives it a logger. */
const CLASSPATH = [ZK_JAR, '/usr/share/java/slf4j-simple.jar'].join(':');

/** Why ZooKeeper tests cannot run here, or undefined when they can. */
export function zookeeperMissing(): string | undefined {
  if (!existsSync(ZK_JAR)) return `${ZK_JAR} is missing (apt-get install zookeeper; .ci/system-deps test does it)`;
  if (!existsSync('/usr/bin/java')) return 'java is missing (it comes with the zookeeper package)';
  return undefined;
}

/** Send a four-letter command (ruok, srvr, ...) and return the answer ('' on failure). */
export async function fourLetter(host: string, port: number, cmd: string, netns?: string): Promise<string> {
  if (netns) {
    // from inside the namespace: bash's /dev/tcp, bounded by timeout(1)
    const r = await run('ip', ['netns', 'exec', netns, 'timeout', '2', 'bash', '-c',
      `exec 3<>/dev/tcp/${host}/${port}; printf ${cmd} >&3; cat <&3`], { timeoutMs: 5000 }).catch(() => undefined);
    return r?.out ?? '';
  }
  return new Promise((resolve) => {
    let out = '';
    const s = net.connect({ host, port }, () => s.write(cmd));
    const done = () => { clearTimeout(t); s.destroy(); resolve(out); };
    const t = setTimeout(done, 2000);
    s.on('data', (d) => { out += d; });
    s.on('end', done);
    s.on('error', done);
  });
}

export interface ZkServerSpec {
  /** address the server listens on (default 127.0.0.1) */
  host?: string;
  /** network namespace to run in (default: ours) */
  netns?: string;
}

/** One ZooKeeper server process. */
export class ZkServer {
  pid: number | undefined;
  private logFd: number | undefined;

  constructor(
    readonly dir: string,
    readonly host: string,
    readonly clientPort: number,
    readonly netns: string | undefined,
    private readonly mainClass: string,
  ) {}

  get address(): string {
    return `${this.host}:${this.clientPort}`;
  }

  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  async spawn(): Promise<void> {
    const java = ['java', '-Xms16m', '-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dzookeeper.jmx.log4j.disable=true',
      '-cp', CLASSPATH, this.mainClass, join(this.dir, 'zoo.cfg')];
    const [cmd, ...args] = this.netns ? ['ip', 'netns', 'exec', this.netns, ...java] : java;
    this.logFd = openSync(this.logFile, 'a');
    // `ip netns exec` execs the command, so this PID is java's
    const child = spawn(cmd!, args, { stdio: ['ignore', this.logFd, this.logFd] });
    child.on('error', () => { /* reported by the readiness wait */ });
    if (!child.pid) throw new Error(`could not start ZooKeeper (${cmd})`);
    this.pid = child.pid;
    recordPid('zookeeper', child.pid);
  }

  /** Answers `srvr` as a serving member (standalone, leader or follower). */
  async serving(): Promise<boolean> {
    const out = await fourLetter(this.host, this.clientPort, 'srvr', this.netns);
    return /Mode: (standalone|leader|follower)/.test(out);
  }

  async mode(): Promise<string | undefined> {
    const out = await fourLetter(this.host, this.clientPort, 'srvr', this.netns);
    return /Mode: (\w+)/.exec(out)?.[1];
  }

  private closeLog(): void {
    if (this.logFd !== undefined) closeSync(this.logFd);
    this.logFd = undefined;
  }

  /** Stop by PID: SIGTERM, then SIGKILL if it lingers. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    try { process.kill(pid, signal); } catch { /* gone */ }
    try {
      await waitFor(`ZooKeeper ${pid} to exit`, () => !pidAlive(pid), 5000, 50);
    } catch {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await waitFor(`ZooKeeper ${pid} to die`, () => !pidAlive(pid), 5000, 50);
    }
    forgetPid('zookeeper', pid);
    this.pid = undefined;
    this.closeLog();
  }

  killSync(): void {
    if (this.pid === undefined) return;
    try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
    forgetPid('zookeeper', this.pid);
    this.pid = undefined;
    this.closeLog();
  }

  tail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }
}

const BASE_CONF = [
  'tickTime=200',
  'initLimit=50',
  // followers notice a lost leader after syncLimit ticks (1 s), then elect another
  'syncLimit=5',
  'admin.enableServer=false',
  '4lw.commands.whitelist=*',
  // sessions from 0.4 s (2 ticks) to 60 s: tests pick short ones
  'minSessionTimeout=400',
  'maxSessionTimeout=60000',
  'autopurge.purgeInterval=0',
  // every sheep of a test connects from 127.0.0.1: the default (60 a client address) stops the 61st
  'maxClientCnxns=0',
];

/**
 * A set of ZooKeeper servers: one standalone (start) or an ensemble
 * (startEnsemble). `connectString` is what `-c zookeeper:` takes.
 */
export class ZooKeeper {
  private cleaned = false;

  private constructor(readonly root: string, readonly servers: ZkServer[]) {
    process.on('exit', () => this.killAllSync());
  }

  get connectString(): string {
    return this.servers.map((s) => s.address).join(',');
  }

  /** A standalone server on loopback (or on `host` inside `netns`). */
  static async start(spec: ZkServerSpec = {}): Promise<ZooKeeper> {
    const missing = zookeeperMissing();
    if (missing) throw new Error(missing);
    const root = mkdtempSync(join(tmpdir(), 'sheepdog-zk-'));
    const host = spec.host ?? '127.0.0.1';
    const [port] = spec.netns ? [2181] : await freePorts(1);
    const dir = join(root, 'zk0');
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'zoo.cfg'), [...BASE_CONF, `dataDir=${join(dir, 'data')}`,
      `clientPort=${port}`, `clientPortAddress=${host}`, ''].join('\n'));
    const s = new ZkServer(dir, host, port!, spec.netns, 'org.apache.zookeeper.server.ZooKeeperServerMain');
    const zk = new ZooKeeper(root, [s]);
    try {
      await s.spawn();
      await zk.waitServing(15_000);
    } catch (e) {
      await zk.cleanup();
      throw e;
    }
    return zk;
  }

  /**
   * An ensemble of specs.length servers (default 3 on loopback), each with its
   * own client, quorum and election ports.
   */
  static async startEnsemble(specs: ZkServerSpec[] = [{}, {}, {}]): Promise<ZooKeeper> {
    const missing = zookeeperMissing();
    if (missing) throw new Error(missing);
    const root = mkdtempSync(join(tmpdir(), 'sheepdog-zk-'));
    const inNetns = specs.some((s) => s.netns);
    // in namespaces every server has its own address, so the usual ports do
    const ports = inNetns ? [] : await freePorts(specs.length * 3);
    const port = (i: number, k: number) => (inNetns ? [2181, 2888, 3888][k]! : ports[i * 3 + k]!);
    const hosts = specs.map((s) => s.host ?? '127.0.0.1');
    const serverLines = specs.map((_, i) => `server.${i + 1}=${hosts[i]}:${port(i, 1)}:${port(i, 2)}`);
    const servers = specs.map((spec, i) => {
      const dir = join(root, `zk${i}`);
      mkdirSync(join(dir, 'data'), { recursive: true });
      writeFileSync(join(dir, 'data', 'myid'), `${i + 1}\n`);
      writeFileSync(join(dir, 'zoo.cfg'), [...BASE_CONF, `dataDir=${join(dir, 'data')}`,
        `clientPort=${port(i, 0)}`, `clientPortAddress=${hosts[i]}`, ...serverLines, ''].join('\n'));
      return new ZkServer(dir, hosts[i]!, port(i, 0), spec.netns, 'org.apache.zookeeper.server.quorum.QuorumPeerMain');
    });
    const zk = new ZooKeeper(root, servers);
    try {
      for (const s of servers) await s.spawn();
      await zk.waitServing(30_000);
    } catch (e) {
      await zk.cleanup();
      throw e;
    }
    return zk;
  }

  /** Wait until every running server serves (an ensemble: has a quorum). */
  async waitServing(timeoutMs = 15_000): Promise<void> {
    try {
      await waitFor('ZooKeeper to serve', async () => {
        for (const s of this.servers) {
          if (s.pid === undefined) continue;
          if (!pidAlive(s.pid)) throw new Error(`ZooKeeper exited: ${s.tail()}`);
          if (!(await s.serving())) return false;
        }
        return true;
      }, timeoutMs, 100);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.servers.map((s) => s.tail()).join('\n')}`);
    }
  }

  /** Index of the ensemble's leader (or 0 for a standalone server). */
  async leader(): Promise<number> {
    for (let i = 0; i < this.servers.length; i++) {
      const m = await this.servers[i]!.mode();
      if (m === 'leader' || m === 'standalone') return i;
    }
    return -1;
  }

  private killAllSync(): void {
    for (const s of this.servers) s.killSync();
  }

  /** Stop every server by PID and remove the temp dir. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await Promise.all(this.servers.map((s) => s.stop().catch(() => s.killSync())));
    if (process.env.SHEEPDOG_TEST_KEEP) console.log(`kept ${this.root}`);
    else rmSync(this.root, { recursive: true, force: true });
  }
}
