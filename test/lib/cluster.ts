/**
 * Test clusters of real sheep processes on loopback ports, driven by the real
 * dog binary. Every process started is recorded by PID (the runner kills
 * leftovers) and stopped by PID; nothing is ever stopped by name.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SheepConnection } from '../../shared/client.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const SHEEP = join(ROOT, 'sheep/sheep');
export const DOG = join(ROOT, 'dog/dog');
/** The original C programs beside the project (../shared/original/bin), when present. */
export const ORIGINAL_BIN = join(ROOT, '../shared/original/bin');

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** stdout as text */
  out: string;
}

/** Run a program to completion with an optional stdin and a time bound. */
export function run(cmd: string, args: readonly string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { err += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 60_000} ms`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.stdin.on('error', () => { /* the program may exit without reading its input */ });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      // text only when asked: a VDI read can be larger than the longest string V8 makes
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr: err, get out() { return stdout.toString(); } });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Poll until cond() is truthy; fail with `what` after timeoutMs. */
export async function waitFor<T>(what: string, cond: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = net.createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/**
 * Ports the original's functional tests use (their expected output prints
 * 7000-7019), and that their harness waits to see free (any :70xx listener).
 */
const FUNCTIONAL_PORTS = [7000, 7099] as const;

/**
 * `n` consecutive free loopback ports. Four digits, like the original's 7000,
 * so that output compared with its transcript keeps its column widths.
 */
export async function freePorts(n: number): Promise<number[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 2000 + Math.floor(Math.random() * (9999 - 2000 - n));
    const ports = Array.from({ length: n }, (_, i) => base + i);
    // 7000-7099 belong to the original's functional tests (see FUNCTIONAL_PORTS)
    if (ports.some((p) => p >= FUNCTIONAL_PORTS[0] && p <= FUNCTIONAL_PORTS[1])) continue;
    let ok = true;
    for (const p of ports) if (!(await portFree(p))) { ok = false; break; }
    if (ok) return ports;
  }
  throw new Error('no free port range found');
}

/** Members a sheep reports (GET_NODE_LIST); -1 when it does not answer. */
export async function nodeCount(port: number): Promise<number> {
  let c: SheepConnection | undefined;
  try {
    c = await SheepConnection.connect({ host: '127.0.0.1', port }, 2000);
    const r = await c.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, 491520), undefined, 5000);
    return r.hdr.rspNrNodes;
  } catch {
    return -1;
  } finally {
    c?.close();
  }
}

/**
 * True while any thread of the process still runs. The leader thread turns
 * zombie first; the others (which may hold the store lock) can linger a moment.
 */
export function pidAlive(pid: number): boolean {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return tasks.some((t) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  });
}

/** Record a PID so the test runner kills it should this test file forget to. */
export function recordPid(name: string, pid: number): void {
  const dir = process.env.SHEEPDOG_TEST_PID_DIR;
  if (dir) writeFileSync(join(dir, `${name}-${pid}`), String(pid));
}

export function forgetPid(name: string, pid: number): void {
  const dir = process.env.SHEEPDOG_TEST_PID_DIR;
  if (dir) rmSync(join(dir, `${name}-${pid}`), { force: true });
}

export interface ClusterOptions {
  /** number of sheep (default 3) */
  nodes?: number;
  /** format with this many copies after start (undefined: leave unformatted) */
  copies?: number;
  /** extra sheep arguments, e.g. ['-g'] */
  sheepArgs?: (i: number) => string[];
  /** zones: one per sheep by default, as the reference cluster */
  zones?: boolean;
  /** start with -n (default true: tests rarely need fsync; the data test does) */
  nosync?: boolean;
  /** the `-c` argument, e.g. `zookeeper:127.0.0.1:2181` (default: local driver in the temp dir) */
  driver?: string;
  /** md disks of sheep i: the store argument becomes `DIR,DISK1,...` */
  disks?: (i: number, dir: string) => string[];
  /** loopback ports to reserve, one a sheep (default nodes + 4: room for joiners) */
  ports?: number;
  /** runs before sheep i first starts, e.g. to mount a file system at its directory */
  prepare?: (i: number, dir: string) => Promise<void>;
}

/** A cluster of real sheep under a fresh temp directory. */
export class TestCluster {
  readonly root: string;
  readonly shm: string;
  readonly pids = new Map<number, number>();
  private cleaned = false;

  private constructor(readonly ports: number[], private readonly o: ClusterOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'sheepdog-test-'));
    this.shm = join(this.root, 'shm');
    process.on('exit', () => this.killAllSync());
  }

  static async start(o: ClusterOptions = {}): Promise<TestCluster> {
    const n = o.nodes ?? 3;
    const c = new TestCluster(await freePorts(o.ports ?? n + 4), o);
    try {
      for (let i = 0; i < n; i++) {
        await o.prepare?.(i, c.dir(i));
        await c.startSheep(i);
      }
      if (n > 0) await c.waitMembers(n);
      if (o.copies !== undefined) {
        const r = await c.dog(['cluster', 'format', '-c', String(o.copies)]);
        if (r.code !== 0) throw new Error(`format failed: ${r.stderr}`);
      }
    } catch (e) {
      // the start's error is the one to see (a cleanup can fail too: a mount
      // that prepare made under the cluster's directory is still there)
      await c.cleanup().catch((ce: unknown) => console.log(`cleanup after a failed start: ${(ce as Error).message}`));
      throw e;
    }
    return c;
  }

  dir(i: number): string {
    return join(this.root, String(i));
  }

  objDir(i: number): string {
    return join(this.dir(i), 'obj');
  }

  port(i: number): number {
    return this.ports[i]!;
  }

  /** The command line a user would type, with the store directory right after the launcher. */
  sheepArgs(i: number, extra: readonly string[] = []): string[] {
    const zone = this.o.zones === false ? [] : ['-z', String(i)];
    const nosync = this.o.nosync === false ? [] : ['-n'];
    const store = [this.dir(i), ...(this.o.disks?.(i, this.dir(i)) ?? [])].join(',');
    return [store, '-c', this.o.driver ?? `local:${this.shm}`, '-p', String(this.port(i)), ...zone, ...nosync,
      '-P', join(this.root, `${i}.pid`), ...(this.o.sheepArgs?.(i) ?? []), ...extra,
      // SHEEPDOG_TEST_SHEEP_ARGS='-l level=debug' for a post-mortem
      ...(process.env.SHEEPDOG_TEST_SHEEP_ARGS?.split(' ').filter(Boolean) ?? [])];
  }

  /** Start sheep i daemonized (as users run it) and record its PID. */
  async startSheep(i: number, extra: readonly string[] = []): Promise<void> {
    const pidFile = join(this.root, `${i}.pid`);
    rmSync(pidFile, { force: true });
    const r = await run(SHEEP, this.sheepArgs(i, extra), { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`sheep ${i} failed to start (${r.code}): ${r.stderr}`);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    this.pids.set(i, pid);
    recordPid(`sheep${i}`, pid);
  }

  /** Wait until sheep `via` lists n members (asked with the raw protocol, not dog). */
  async waitMembers(n: number, via = 0): Promise<void> {
    await waitFor(`${n} members`, async () => (await nodeCount(this.port(via))) === n, 20_000);
  }

  /** Run dog against sheep `port` (default: sheep 0). */
  dog(args: readonly string[], opts: { input?: Buffer | string; port?: number; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(DOG, args, {
      input: opts.input,
      env: { SHEEPDOG_DOG_PORT: String(opts.port ?? this.port(0)), SHEEPDOG_DOG_ADDR: '127.0.0.1' },
      timeoutMs: opts.timeoutMs ?? 120_000,
    });
  }

  /** dog that must succeed: its result, or an error naming the command, exit code and stderr. */
  async dogOk(args: readonly string[], opts: { input?: Buffer | string; port?: number; timeoutMs?: number } = {}): Promise<RunResult> {
    const r = await this.dog(args, opts);
    if (r.code !== 0) throw new Error(`dog ${args.join(' ')} -> ${r.code}: ${r.stderr}`);
    return r;
  }

  /** kill -9 of sheep i. */
  async kill9(i: number): Promise<void> {
    const pid = this.pids.get(i);
    if (pid === undefined) return;
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    await waitFor(`sheep ${i} to die`, () => !pidAlive(pid), 10_000);
    this.pids.delete(i);
    forgetPid(`sheep${i}`, pid);
  }

  /** SIGTERM of sheep i and wait for it to exit. */
  async stop(i: number): Promise<void> {
    const pid = this.pids.get(i);
    if (pid === undefined) return;
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    await waitFor(`sheep ${i} to exit`, () => !pidAlive(pid), 30_000);
    this.pids.delete(i);
    forgetPid(`sheep${i}`, pid);
  }

  /** Wait until a sheep that exited on its own (shutdown, kill) is gone. */
  async waitExited(i: number, timeoutMs = 30_000): Promise<void> {
    const pid = this.pids.get(i);
    if (pid === undefined) return;
    await waitFor(`sheep ${i} to exit`, () => !pidAlive(pid), timeoutMs);
    this.pids.delete(i);
    forgetPid(`sheep${i}`, pid);
  }

  private killAllSync(): void {
    for (const [i, pid] of this.pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      forgetPid(`sheep${i}`, pid);
    }
    this.pids.clear();
  }

  /** Kill everything we started, wait for it to be gone, remove the temp dir. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    const pids = [...this.pids.values()];
    this.killAllSync();
    await waitFor('test sheep to die', () => pids.every((p) => !pidAlive(p)), 10_000).catch(() => {});
    // SHEEPDOG_TEST_KEEP=1 keeps stores and logs for a post-mortem
    if (process.env.SHEEPDOG_TEST_KEEP) console.log(`kept ${this.root}`);
    else if (existsSync(this.root)) rmSync(this.root, { recursive: true, force: true });
  }
}
