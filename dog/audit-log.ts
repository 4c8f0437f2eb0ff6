/**
 * SHEEPDOG_DOG_LOG: record each invocation (cli.md §2.1.1). With
 * SHEEPDOG_DOG_LOG_PATH the line is appended to that file (mode 0600 when
 * created), otherwise it goes to syslog through logger(1).
 */
import { appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { err } from './output.js';
import { strerror } from './errno.js';
import { strftime } from '../shared/ctime.js';

export async function logOperation(argv: readonly string[]): Promise<void> {
  const msg = argv.map((a) => ` ${a}`).join('');
  const path = process.env.SHEEPDOG_DOG_LOG_PATH;
  if (path !== undefined) {
    const stamp = strftime('%Y %b %2d %H:%M:%S ', Date.now() / 1000);
    try {
      appendFileSync(path, `${stamp}: ${msg}\n`, { mode: 0o600 });
    } catch (e) {
      err(`error at opening log file of dog(${path}): ${strerror(e)}`);
    }
    return;
  }
  await new Promise<void>((resolve) => {
    const child = spawn('logger', ['-t', 'sheepdog admin operation', `--id=${process.pid}`, '-p', 'user.info', msg], {
      stdio: 'ignore',
    });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}
