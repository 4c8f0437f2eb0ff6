import { Daemon } from '../shared/daemon.js';

/** How long the parent waits for the mount. */
const DAEMON_START_TIMEOUT_MS = 30_000;

const daemon = new Daemon({
  childEnv: 'SHEEPFS_DAEMON_CHILD',
  startTimeoutMs: DAEMON_START_TIMEOUT_MS,
  timeoutMessage: `sheepfs: the mount did not come up within ${DAEMON_START_TIMEOUT_MS / 1000} s`,
  exitedMessage: (code) => `sheepfs: the daemon exited during start-up (status ${code})`,
});

export const isDaemonChild = (): boolean => daemon.isChild;
export const runAsDaemonParent = (): void => daemon.runParent();
export const reportStartup = (ok: boolean, error?: string): void => daemon.reportStartup(ok, error);
