/**
 * Daemonizing without fork, as sheep does: the foreground process starts a
 * detached copy of itself with the same command line and an environment
 * marker, waits until the copy reports that the mount is up (or why it
 * failed), and exits with that status. The copy mounts; the parent never does,
 * so its exit leaves nothing behind.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CHILD_ENV = 'SHEEPFS_DAEMON_CHILD';
/** How long the parent waits for the mount. */
const DAEMON_START_TIMEOUT_MS = 30_000;

export const isDaemonChild = (): boolean => process.env[CHILD_ENV] === '1';

/** The script and its arguments as typed (so `pgrep -f "sheepfs MOUNTPOINT"` finds the daemon). */
function originalCommandLine(): string[] {
  try {
    const raw = readFileSync('/proc/self/cmdline', 'latin1').split('\0');
    if (raw[raw.length - 1] === '') raw.pop();
    const script = raw.length - process.argv.length + 1;
    return raw.slice(script).map((s) => Buffer.from(s, 'latin1').toString('utf8'));
  } catch {
    return process.argv.slice(1);
  }
}

export function runAsDaemonParent(): void {
  const [script, ...args] = originalCommandLine();
  const child = spawn(process.execPath, [...process.execArgv, script!, ...args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  const timer = setTimeout(() => {
    process.stderr.write(`sheepfs: the mount did not come up within ${DAEMON_START_TIMEOUT_MS / 1000} s\n`);
    process.exit(1);
  }, DAEMON_START_TIMEOUT_MS);
  child.on('message', (m: { ok: boolean; error?: string }) => {
    clearTimeout(timer);
    if (!m.ok && m.error) process.stderr.write(`${m.error}\n`);
    child.disconnect();
    child.unref();
    process.exit(m.ok ? 0 : 1);
  });
  child.on('exit', (code) => {
    clearTimeout(timer);
    process.stderr.write(`sheepfs: the daemon exited during start-up (status ${code})\n`);
    process.exit(1);
  });
}

/** In the daemon: tell the waiting parent how start-up went, then detach from it. */
export function reportStartup(ok: boolean, error?: string): void {
  if (!isDaemonChild() || !process.send) return;
  process.send({ ok, error }, () => process.disconnect());
}
