/**
 * sheep entry point: options -> config, daemonizing, start-up report. Nothing
 * else lives here.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { daemonArgs, isDaemonChild, reportStartup, runAsDaemonParent } from './daemon.js';
import { parseSheepArgs } from './options.js';
import type { Sheep } from './sheep.js';

/** As the C original: stderr goes out at once, stdout (buffered there) when it exits. */
function out(stdout?: string, stderr?: string): void {
  if (stderr) process.stderr.write(stderr);
  if (stdout) process.stdout.write(stdout);
}

/** Create the store directory the way the original does: one mkdir, parent must exist. */
function prepareBaseDir(dir: string): string | undefined {
  try {
    mkdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      process.stderr.write(`cannot create the directory ${dir} (${(e as Error).message})\n`);
      return undefined;
    }
  }
  return realpathSync(dir);
}

async function main(): Promise<void> {
  const parsed = parseSheepArgs(daemonArgs(process.argv.slice(2)));
  if ('exit' in parsed) {
    out(parsed.stdout, parsed.stderr);
    process.exitCode = parsed.exit;
    return;
  }
  const opts = parsed.run;
  const baseDir = prepareBaseDir(opts.baseDir);
  if (baseDir === undefined) {
    process.exitCode = 1;
    return;
  }
  if (!opts.foreground && !isDaemonChild()) {
    runAsDaemonParent(opts.storeArg);
    return;
  }
  let sheep: Sheep;
  try {
    // loaded here, not above: the foreground parent that only starts the daemon
    // stays light (a test may start dozens of sheep at once)
    const { Sheep } = await import('./sheep.js');
    sheep = await Sheep.start(opts, baseDir);
  } catch (e) {
    const msg = (e as Error).message;
    reportStartup(false, msg);
    process.stderr.write(`${msg}\n`);
    process.exit(1);
  }
  const crash = (what: string) => (err: unknown) => sheep.crash(what, err);
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled rejection'));
  reportStartup(true);
}

await main();
