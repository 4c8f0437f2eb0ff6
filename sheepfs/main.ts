/**
 * sheepfs entry point: options, checks that give a clear message before
 * anything is mounted, daemonizing (unless -f/-d), the mount, and the ways it
 * ends (SIGTERM/SIGINT/SIGHUP: unmount and exit 0; `fusermount -u` from
 * outside: exit 0; killed: the mount goes away by itself, auto_unmount).
 *
 * The mounted process never starts a child process (one would inherit
 * /dev/fuse and keep a dead mount alive) and never blocks its event loop: FUSE
 * requests are answered on it.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { SheepConnection, ConnectError } from '../shared/client.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../shared/proto/results.js';
import { SD_MAX_NODES, SD_NODE_SIZE } from '../shared/node.js';
import { Catalogue } from './catalogue.js';
import { isDaemonChild, reportStartup, runAsDaemonParent } from './daemon.js';
import { backendFromEnv, backendHere, checkMountpoint, mount, type Mounted } from './fuse.js';
import { FUSE_OP_TIMEOUT_MS, SheepLink } from './link.js';
import { parseOptions, USAGE, type Options } from './options.js';
import { Tree } from './tree.js';

/** Every FUSE operation is answered within this (EIO after it); the link gives up before, on writes too. */
const OP_TIMEOUT_MS = FUSE_OP_TIMEOUT_MS;

let logStream: WriteStream | undefined;
let foreground = true;

function log(msg: string): void {
  const line = `sheepfs: ${msg}\n`;
  if (foreground) process.stderr.write(line);
  else logStream?.write(`${new Date().toISOString()} ${line}`);
}

/** Fail before mounting: the message, and exit 1 (through the waiting parent when daemonized). */
function die(msg: string): never {
  if (isDaemonChild()) {
    reportStartup(false, msg);
    setTimeout(() => process.exit(1), 100);
    throw new Error(msg);
  }
  process.stderr.write(`${msg}\n`);
  process.exit(1);
}

/** The sheep must answer: otherwise say so now rather than mount a tree of EIOs. */
async function probeSheep(o: Options): Promise<void> {
  const where = `${o.address}:${o.port}`;
  let c: SheepConnection;
  try {
    c = await SheepConnection.connect({ host: o.address, port: o.port }, 3000);
  } catch (e) {
    die(`sheepfs: cannot connect to sheep at ${where}: ${e instanceof ConnectError ? e.reason : (e as Error).message}`);
  }
  try {
    const r = await c.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, SD_MAX_NODES * SD_NODE_SIZE), undefined, 5000);
    if (r.hdr.result !== SD_RES.SUCCESS) die(`sheepfs: sheep at ${where} cannot serve: ${resultText(r.hdr.result)}`);
    const st = SdHeader.request(SD_OP.STAT_CLUSTER, 0, 48);
    const s = await c.request(st, undefined, 5000);
    if (s.hdr.result === SD_RES.WAIT_FOR_FORMAT) die(`sheepfs: the cluster at ${where} is not formatted (dog cluster format)`);
  } catch (e) {
    die(`sheepfs: sheep at ${where} does not answer: ${(e as Error).message}`);
  } finally {
    c.close();
  }
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed.kind === 'help') {
    process.stdout.write(`${USAGE}FUSE backend here: ${backendHere(backendFromEnv() ?? 'auto')}\n`);
    return;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(parsed.lines.join('\n') + '\n');
    process.exitCode = 1;
    return;
  }
  const o = parsed.options;
  const mnt = resolve(o.mountpoint);
  foreground = o.foreground;
  const bad = await checkMountpoint(mnt);
  if (bad) die(`sheepfs: ${bad}`);
  await probeSheep(o);
  if (!o.foreground && !isDaemonChild()) {
    runAsDaemonParent();
    return;
  }
  if (isDaemonChild() && process.env.SHEEPFS_LOG) logStream = createWriteStream(process.env.SHEEPFS_LOG, { flags: 'a' });

  const link = new SheepLink({ host: o.address, port: o.port });
  await link.refreshMembers();
  const catalogue = new Catalogue(link);
  const tree = new Tree(link, catalogue, { pageCache: o.pageCache, objectCache: o.objectCache, log });
  let mounted: Mounted;
  try {
    mounted = await mount(mnt, tree, {
      fsname: 'sheepfs', pageCache: o.pageCache, debug: o.debug, opTimeoutMs: OP_TIMEOUT_MS, log,
      backend: o.fuse ?? backendFromEnv() ?? 'auto',
    });
  } catch (e) {
    die(`sheepfs: cannot mount ${mnt}: ${(e as Error).message}`);
  }
  log(`mounted ${mnt} (sheep ${o.address}:${o.port}, pid ${process.pid}, ${mounted.backend})`);

  let ending = false;
  const end = async (why: string): Promise<void> => {
    if (ending) return;
    ending = true;
    log(`${why}: unmounting ${mnt}`);
    await Promise.race([tree.flushAll(), new Promise((r) => setTimeout(r, OP_TIMEOUT_MS))]);
    try {
      await mounted.unmount();
    } catch (e) {
      log((e as Error).message);
    }
    link.close();
    await mounted.exit(0);
  };
  mounted.onGone(() => {
    if (ending) return;
    ending = true;
    log(`${mnt} was unmounted`);
    link.close();
    void mounted.exit(0);
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void end(sig));
  reportStartup(true);
}

main().catch((e) => {
  log(`fatal: ${(e as Error).stack ?? e}`);
  if (isDaemonChild()) reportStartup(false, `sheepfs: ${(e as Error).message}`);
  process.exitCode = 1;
});
