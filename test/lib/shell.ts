/** Shell helpers for tests that drive outside tools (qemu, fio, nbd clients). */
import { run, type RunResult } from './cluster.js';

/** Run a shell pipeline (bash -o pipefail) with a time bound. */
export function sh(script: string, timeoutMs = 120_000): Promise<RunResult> {
  return run('bash', ['-o', 'pipefail', '-c', script], { timeoutMs });
}

/** Is this command on PATH? */
export async function have(cmd: string): Promise<boolean> {
  return (await run('bash', ['-c', `command -v ${cmd}`]).catch(() => ({ code: 1 }))).code === 0;
}
