/**
 * The test side of the power-cut file system (test/lib/powercut-fs.ts): mount
 * one in its own process, cut the power (forget what was not made durable),
 * switch EIO faults on paths, unmount. The process is recorded by PID like the
 * sheep, and is lazily unmounted and killed by cleanup() whatever happens.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { forgetPid, recordPid, run } from './cluster.js';
import type { CutMode } from './powercut-fs.js';

const SERVER = fileURLToPath(new URL('./powercut-fs.js', import.meta.url));
/** How long the file system may take to mount, or to answer a command (a cut remounts). */
const POWERCUT_COMMAND_MS = 60_000;

export class PowerCutFs {
  private nextId = 1;
  private readonly waiting = new Map<number, (m: { ok: boolean; error?: string; undone?: number }) => void>();

  private constructor(private readonly child: ChildProcess, readonly mountpoint: string) {
    child.on('message', (m: { id?: number; ok: boolean; error?: string; undone?: number }) => {
      if (m.id !== undefined) this.waiting.get(m.id)?.(m);
    });
  }

  /** Mount BACKING's pass-through at MOUNTPOINT (both created). */
  static async mount(backing: string, mountpoint: string): Promise<PowerCutFs> {
    mkdirSync(backing, { recursive: true });
    mkdirSync(mountpoint, { recursive: true });
    const child = fork(SERVER, [backing, mountpoint], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    recordPid('powercut-fs', child.pid!);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`powercut-fs did not mount ${mountpoint}`)), POWERCUT_COMMAND_MS);
      child.once('message', () => { clearTimeout(t); resolve(); });
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`powercut-fs exited (${code})`)); });
    });
    return new PowerCutFs(child, mountpoint);
  }

  private command(c: Record<string, unknown>): Promise<{ undone?: number }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`powercut-fs: no answer to ${String(c.cmd)}`)), POWERCUT_COMMAND_MS);
      this.waiting.set(id, (m) => {
        clearTimeout(t);
        this.waiting.delete(id);
        if (m.ok) resolve(m);
        else reject(new Error(`powercut-fs: ${m.error}`));
      });
      this.child.send({ id, ...c });
    });
  }

  /** Power cut: whatever was not made durable is forgotten (every process using the mount must be dead). */
  async cut(mode: CutMode, seed: number): Promise<number> {
    return (await this.command({ cmd: 'cut', mode, seed })).undone ?? 0;
  }

  /** Paths under `path` (inside the mount, '/...') answer EIO while on. */
  async fault(path: string, on: boolean): Promise<void> {
    await this.command({ cmd: 'fault', path, on });
  }

  async cleanup(): Promise<void> {
    if (this.child.exitCode === null) {
      await this.command({ cmd: 'exit' }).catch(() => {});
      this.child.kill('SIGKILL');
    }
    await run('fusermount', ['-uz', this.mountpoint], { timeoutMs: 10_000 }).catch(() => undefined);
    forgetPid('powercut-fs', this.child.pid!);
  }
}
