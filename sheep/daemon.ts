import { Daemon } from '../shared/daemon.js';

/** How long the foreground parent waits for the daemon to come up. */
const DAEMON_START_TIMEOUT_MS = 60_000;

const daemon = new Daemon({
  childEnv: 'SHEEPDOG_DAEMON_CHILD',
  startTimeoutMs: DAEMON_START_TIMEOUT_MS,
  timeoutMessage: `sheep did not report start-up within ${DAEMON_START_TIMEOUT_MS / 1000} s`,
  exitedMessage: (code) => `sheep exited during start-up (status ${code}); see its log`,
});

export const isDaemonChild = (): boolean => daemon.isChild;
/** The store argument (`PATH,DISK,...`) reads as separate words in the daemon's command line, as the original's. */
export const runAsDaemonParent = (storeArg?: string): void => daemon.runParent(storeArg);
export const daemonArgs = (argv: string[]): string[] => daemon.childArgs(argv);
export const reportStartup = (ok: boolean, error?: string): void => daemon.reportStartup(ok, error);
