import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Daemonizing without fork: the foreground process starts a detached copy of
 * itself with the very same command line (scripts find sheep with
 * `pgrep -f "<path of sheep/sheep> <store dir> "`), then waits until the copy
 * reports that it is serving, or why it failed, and exits with that status.
 */
const CHILD_ENV = 'SHEEPDOG_DAEMON_CHILD';
/** How long the foreground parent waits for the daemon to come up. */
const DAEMON_START_TIMEOUT_MS = 60_000;

export const isDaemonChild = (): boolean => process.env[CHILD_ENV] === '1';

/** The script path and arguments exactly as the user typed them. */
function originalCommandLine(): string[] {
  try {
    const raw = readFileSync('/proc/self/cmdline', 'latin1').split('\0');
    if (raw[raw.length - 1] === '') raw.pop();
    // raw[0] is node, then node's own flags, then the script and its arguments
    const script = raw.length - process.argv.length + 1;
    return raw.slice(script).map((s) => Buffer.from(s, 'latin1').toString('utf8'));
  } catch {
    return process.argv.slice(1);
  }
}

/** In the foreground parent: start the daemon and exit with its start-up status. */
export function runAsDaemonParent(): void {
  const [script, ...args] = originalCommandLine();
  const child = spawn(process.execPath, [...process.execArgv, script!, ...args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  const timer = setTimeout(() => {
    process.stderr.write(`sheep did not report start-up within ${DAEMON_START_TIMEOUT_MS / 1000} s\n`);
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
    process.stderr.write(`sheep exited during start-up (status ${code}); see its log\n`);
    process.exit(1);
  });
}

/** In the daemon: tell the waiting parent how start-up went, then detach from it. */
export function reportStartup(ok: boolean, error?: string): void {
  if (!isDaemonChild() || !process.send) return;
  process.send({ ok, error }, () => process.disconnect());
}
