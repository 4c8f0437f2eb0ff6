import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Daemonizing without fork, for sheep and sheepfs: the foreground process
 * starts a detached copy of itself with the very same command line (scripts
 * find daemons with `pgrep -f "<path of sheep/sheep> <store dir> "`) and an
 * environment marker, waits until the copy reports that it serves (or why it
 * failed), and exits with that status. Only the copy does the real work, so
 * the parent's exit leaves nothing behind.
 */
export interface DaemonSpec {
  /** environment variable that marks the detached copy */
  childEnv: string;
  /** how long the parent waits for the copy's report */
  startTimeoutMs: number;
  /** stderr line when the report does not come in time */
  timeoutMessage: string;
  /** stderr line when the copy exits before reporting */
  exitedMessage: (code: number | null) => string;
}

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

export class Daemon {
  constructor(private readonly spec: DaemonSpec) {}

  get isChild(): boolean {
    return process.env[this.spec.childEnv] === '1';
  }

  /**
   * In the foreground parent: start the daemon and exit with its start-up status.
   * `splitArg`, an argument the original cuts at its commas in place (strtok on
   * argv: its command line then reads as separate words), is passed to the
   * daemon that way too, and whole in the environment (see childArgs).
   */
  runParent(splitArg?: string): void {
    const [script, ...args] = originalCommandLine();
    const env: NodeJS.ProcessEnv = { ...process.env, [this.spec.childEnv]: '1' };
    const at = splitArg?.includes(',') ? args.lastIndexOf(splitArg) : -1;
    if (at >= 0) {
      args.splice(at, 1, ...splitArg!.split(','));
      env[`${this.spec.childEnv}_SPLIT`] = splitArg;
    }
    const child = spawn(process.execPath, [...process.execArgv, script!, ...args], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env,
    });
    const timer = setTimeout(() => {
      process.stderr.write(`${this.spec.timeoutMessage}\n`);
      process.exit(1);
    }, this.spec.startTimeoutMs);
    child.on('message', (m: { ok: boolean; error?: string }) => {
      clearTimeout(timer);
      if (!m.ok && m.error) process.stderr.write(`${m.error}\n`);
      child.disconnect();
      child.unref();
      process.exit(m.ok ? 0 : 1);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      process.stderr.write(`${this.spec.exitedMessage(code)}\n`);
      process.exit(1);
    });
  }

  /** The daemon's arguments with the parent's split argument whole again. */
  childArgs(argv: string[]): string[] {
    const whole = this.isChild ? process.env[`${this.spec.childEnv}_SPLIT`] : undefined;
    if (whole === undefined) return argv;
    const pieces = whole.split(',');
    for (let i = argv.length - pieces.length; i >= 0; i--) {
      if (pieces.every((p, k) => argv[i + k] === p)) return [...argv.slice(0, i), whole, ...argv.slice(i + pieces.length)];
    }
    return argv;
  }

  /** In the daemon: tell the waiting parent how start-up went, then detach from it. */
  reportStartup(ok: boolean, error?: string): void {
    if (!this.isChild || !process.send) return;
    process.send({ ok, error }, () => process.disconnect());
  }
}
