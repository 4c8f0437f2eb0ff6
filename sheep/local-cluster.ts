/**
 * `npm start`: a formatted 3-node local cluster (copies=3) in the foreground,
 * with a demo VDI (demo.img, 256 MiB) and sheepfs mounted at DIR/mnt, so that
 * `DIR/mnt/vdi/demo.img/volume` is a file any tool can use. Ctrl-C unmounts
 * sheepfs, then shuts the cluster down cleanly (`dog cluster shutdown`), so the
 * next start finds every node of the last epoch and serves the same data again.
 *
 * Usage: node build/sheep/local-cluster.js [--dir DIR] [--port BASE] [--no-sheepfs]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SheepConnection } from '../shared/client.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import { stderrPaint, stdoutPaint } from '../shared/colour.js';

const paint = stdoutPaint();
const warn = (line: string): void => console.error(stderrPaint().red(line));

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SHEEP = join(ROOT, 'sheep/sheep');
const DOG = join(ROOT, 'dog/dog');
const SHEEPFS = join(ROOT, 'sheepfs/sheepfs');
const DEMO_VDI = 'demo.img';
const DEMO_SIZE = '256M';
const NODES = 3;
/** How long the cluster gets to come up, and to shut down, before we give up. */
const START_TIMEOUT_MS = 60_000;
const SHUTDOWN_TIMEOUT_MS = 30_000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const dataDir = resolve(arg('--dir', process.env.SHEEPDOG_LOCAL_DIR ?? join(tmpdir(), 'sheepdog-local')));
const basePort = Number(arg('--port', '7000'));
const mountPoint = join(dataDir, 'mnt');
const withSheepfs = !process.argv.includes('--no-sheepfs');
const sheep: ChildProcess[] = [];
let sheepfs: ChildProcess | undefined;
let stopping = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The result STAT_CLUSTER gives (tells formatted, waiting or running); undefined if no answer. */
async function clusterStatus(port: number): Promise<{ members: number; result: number } | undefined> {
  let c: SheepConnection | undefined;
  try {
    c = await SheepConnection.connect({ host: '127.0.0.1', port }, 2000);
    const nl = await c.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, 491520), undefined, 5000);
    const st = SdHeader.request(SD_OP.STAT_CLUSTER, 0, 48);
    const r = await c.request(st, undefined, 5000);
    return { members: nl.hdr.rspNrNodes, result: r.hdr.result };
  } catch {
    return undefined;
  } finally {
    c?.close();
  }
}

function runDog(args: string[], quiet = false): Promise<number> {
  return new Promise((res) => {
    const child = spawn(DOG, args, { stdio: quiet ? 'ignore' : 'inherit', env: { ...process.env, SHEEPDOG_DOG_PORT: String(basePort) } });
    child.on('close', (code) => res(code ?? 1));
  });
}

/** sheepfs -f as our child in its own process group; resolves once the mount is up. */
async function startSheepfs(): Promise<void> {
  mkdirSync(mountPoint, { recursive: true });
  const child = spawn(SHEEPFS, [mountPoint, '-f', '-p', String(basePort)], { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  sheepfs = child;
  child.on('exit', (code, signal) => {
    if (!stopping) {
      warn(`sheepfs exited unexpectedly (${signal ?? code})`);
      void shutdown(1);
    }
  });
  const mounted = async (): Promise<boolean> =>
    (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === mountPoint);
  await waitUntil('sheepfs to mount', async () => {
    if (child.exitCode !== null) throw new Error('sheepfs could not mount');
    return mounted();
  });
}

/** SIGTERM to sheepfs: it unmounts and exits. */
async function stopSheepfs(): Promise<void> {
  const c = sheepfs;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  const deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
  while (c.exitCode === null && c.signalCode === null && Date.now() < deadline) await sleep(100);
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  console.log(`sheepfs unmounted from ${mountPoint}`);
}

function startSheep(i: number): ChildProcess {
  const dir = join(dataDir, String(i));
  const args = [dir, '-c', `local:${join(dataDir, 'shm')}`, '-p', String(basePort + i), '-z', String(i), '-f'];
  // own process group: Ctrl-C reaches only this supervisor, which shuts the cluster down in order
  const child = spawn(SHEEP, args, { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      warn(`sheep ${i} (port ${basePort + i}) exited unexpectedly (${signal ?? code}); see ${join(dir, 'sheep.log')}`);
      void shutdown(1);
    }
  });
  return child;
}

/** Does the cluster have a VDI of this name? (`dog vdi list -r NAME` prints a row) */
function vdiExists(name: string): Promise<boolean> {
  return new Promise((res) => {
    const child = spawn(DOG, ['vdi', 'list', '-r', name], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, SHEEPDOG_DOG_PORT: String(basePort) } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d; });
    child.on('close', () => res(out.trim().length > 0));
  });
}

async function waitUntil(what: string, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await cond())) {
    if (stopping) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nshutting the cluster down...');
  await stopSheepfs();
  const alive = () => sheep.filter((c) => c.exitCode === null && c.signalCode === null);
  if (alive().length > 0) await runDog(['cluster', 'shutdown']);
  const deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
  while (alive().length > 0 && Date.now() < deadline) await sleep(100);
  for (const c of alive()) c.kill('SIGTERM');
  while (alive().length > 0) await sleep(100);
  console.log(`stopped; the data stays in ${dataDir} (run again to serve it)`);
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  mkdirSync(dataDir, { recursive: true });
  console.log(`${paint.bold('sheepdog local cluster')}: ${NODES} sheep on ${paint.cyan(`127.0.0.1:${basePort}-${basePort + NODES - 1}`)}, data in ${paint.cyan(dataDir)}`);
  for (let i = 0; i < NODES; i++) sheep.push(startSheep(i));
  await waitUntil(`${NODES} sheep to join`, async () => (await clusterStatus(basePort))?.members === NODES);
  // format when the cluster says it waits for it, whenever that answer comes (a
  // status asked too early may still be a join in progress)
  let formatted = false;
  await waitUntil('the cluster to run', async () => {
    const st = await clusterStatus(basePort);
    if (st?.result === SD_RES.WAIT_FOR_FORMAT && !formatted) {
      formatted = true;
      if ((await runDog(['cluster', 'format', '-c', '3'])) !== 0) throw new Error('dog cluster format failed');
    }
    return st?.result === SD_RES.SUCCESS;
  });
  if (stopping) return;
  await runDog(['node', 'list']);
  if (withSheepfs) {
    if (!(await vdiExists(DEMO_VDI))) {
      if ((await runDog(['vdi', 'create', DEMO_VDI, DEMO_SIZE])) !== 0) throw new Error(`dog vdi create ${DEMO_VDI} failed`);
    }
    await startSheepfs();
    if (stopping) return;
    console.log(`\nsheepfs mounted at ${paint.cyan(mountPoint)}`);
    console.log(`  demo volume: ${paint.cyan(join(mountPoint, 'vdi', DEMO_VDI, 'volume'))} (${DEMO_SIZE})`);
    console.log(`  try: cat ${join(mountPoint, 'cluster/info')}; ls ${join(mountPoint, 'vdi')}`);
  }
  console.log(`\n${paint.green.bold('ready.')} Try: ${paint.bold('dog/dog vdi create one.img 1G; dog/dog vdi list; dog/dog cluster info')}`);
  console.log(`Ctrl-C ${withSheepfs ? 'unmounts sheepfs and ' : ''}shuts the cluster down cleanly.`);
}

main().catch((e) => {
  warn(`local cluster: ${(e as Error).message}`);
  void shutdown(1);
});
