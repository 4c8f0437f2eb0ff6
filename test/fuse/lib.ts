/**
 * Mounting sheepfs in tests: as users do (daemonized, the launcher returns
 * once the mount is up) or in the foreground as a child. Every sheepfs is
 * recorded by PID for the runner, stopped by PID, and its mount point is
 * unmounted even when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, pidAlive, run, waitFor, type RunResult } from '../lib/cluster.js';

export const SHEEPFS = join(ROOT, 'sheepfs/sheepfs');

function recordPid(pid: number): void {
  const dir = process.env.SHEEPDOG_TEST_PID_DIR;
  if (dir) writeFileSync(join(dir, `sheepfs-${pid}`), String(pid));
}

function forgetPid(pid: number): void {
  const dir = process.env.SHEEPDOG_TEST_PID_DIR;
  if (dir) rmSync(join(dir, `sheepfs-${pid}`), { force: true });
}

/** Is there a fuse mount at mnt (from /proc/self/mountinfo)? */
export function isMounted(mnt: string): boolean {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === mnt);
}

/** The PID of the sheepfs daemon serving mnt: the process whose command line is `... sheepfs/sheepfs ... mnt`. */
export function sheepfsPid(mnt: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('sheepfs/sheepfs')) && argv.includes(mnt)) {
        const env = readFileSync(`/proc/${name}/environ`, 'utf8');
        if (env.includes('SHEEPFS_DAEMON_CHILD=1')) return Number(name);
      }
    } catch { /* gone meanwhile */ }
  }
  return undefined;
}

export interface Mount {
  mnt: string;
  pid: number;
  /** SIGTERM, then wait until the process is gone and the mount with it. */
  stop(): Promise<void>;
  /** Whatever state it is in: kill by PID, lazy unmount. Never throws. */
  cleanup(): Promise<void>;
}

function makeMount(mnt: string, pid: number, child?: ChildProcess): Mount {
  recordPid(pid);
  const m: Mount = {
    mnt, pid,
    async stop() {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      await waitFor('sheepfs to exit', () => !pidAlive(pid), 20_000);
      await waitFor('the mount to go', () => !isMounted(mnt), 10_000);
      forgetPid(pid);
    },
    async cleanup() {
      if (pidAlive(pid)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        await waitFor('sheepfs to die', () => !pidAlive(pid), 10_000).catch(() => {});
      }
      child?.stdout?.destroy();
      child?.stderr?.destroy();
      if (isMounted(mnt)) await run('fusermount', ['-uz', mnt], { timeoutMs: 10_000 }).catch(() => {});
      forgetPid(pid);
    },
  };
  return m;
}

/** `sheepfs MNT -p PORT [args]` as a user runs it (daemonized). */
export async function mountSheepfs(mnt: string, port: number, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Mount> {
  mkdirSync(mnt, { recursive: true });
  const r = await run(SHEEPFS, [mnt, '-a', '127.0.0.1', '-p', String(port), ...args], { timeoutMs: 40_000, env });
  if (r.code !== 0) throw new Error(`sheepfs exited ${r.code}: ${r.stderr}`);
  if (!isMounted(mnt)) throw new Error(`sheepfs returned but ${mnt} is not mounted`);
  const pid = sheepfsPid(mnt);
  if (!pid) {
    await run('fusermount', ['-uz', mnt]).catch(() => {});
    throw new Error('sheepfs daemon not found');
  }
  return makeMount(mnt, pid);
}

/** sheepfs -f as a child of the test (its stderr is kept in .log). */
export async function mountForeground(mnt: string, port: number, args: readonly string[] = []): Promise<Mount & { log: () => string }> {
  mkdirSync(mnt, { recursive: true });
  const child = spawn(SHEEPFS, [mnt, '-f', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => { log += d; });
  child.stderr!.on('data', (d: Buffer) => { log += d; });
  const m = makeMount(mnt, child.pid!, child);
  try {
    await waitFor('the foreground mount', () => {
      if (child.exitCode !== null) throw new Error(`sheepfs -f exited ${child.exitCode}: ${log}`);
      return isMounted(mnt);
    }, 20_000);
  } catch (e) {
    await m.cleanup();
    throw e;
  }
  return Object.assign(m, { log: () => log });
}

export { have, sh } from '../lib/shell.js';
