/**
 * This project next to the original C Sheepdog 1.0.1 (../shared/original), in
 * one run, as a user choosing between them would measure (on demand, not in CI).
 *
 * Each side: 3 local sheep on 127.0.0.1 with -n, formatted with copies 3.
 * - fio direct I/O (libaio, qd16) on a sheepfs volume: ours through our
 *   sheepfs (`vdi/NAME/volume`), the original's through its own sheepfs
 *   (`echo NAME > MNT/vdi/mount`, then `MNT/volume/NAME`);
 * - one request in flight straight to the gateway sheep (48-byte header and
 *   payload over TCP, shared/client.ts, no FUSE): READ_OBJ and WRITE_OBJ of
 *   4 KiB and 128 KiB on an allocated data object, copies 3;
 * - `dog vdi write` / `dog vdi read` of a whole VDI (each side with its own dog).
 * Every measurement alternates ours / original, three rounds; the median of the
 * three is printed for both, with the ratio (higher is better for us: for
 * latencies it is original / ours).
 *
 * Finally a second cluster of ours runs with SHEEPDOG_STAGE_TIMES and the
 * one-in-flight loop again, and the per-stage breakdown of our request path
 * (socket read, parse, dispatch, handler, store call, peer round trips, reply)
 * is printed from what the sheep wrote at exit.
 *
 * Usage: npx tsc -p . && node build/test/bench/vs-original.js
 *          [--size 512M] [--runtime 5] [--dog-mib 1024] [--requests 2000] [--rounds 3]
 *          [--stages-only]  (only the breakdown of ours, no original)
 *          [--dog-only]  (only dog vdi write / read, no fio, latencies or breakdown)
 *          [--latency-only]  (only the one-in-flight latencies, no fio, dog or breakdown)
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FIO_JOBS, runFio } from '../lib/fio.js';
import { cpuNs } from './cpu.js';
import { LAT_JOBS, latency, latencyObject, median } from './one-in-flight.js';
import { mountSheepfs, type Mount } from '../fuse/lib.js';
import { DOG, freePorts, pidAlive, ROOT, run, TestCluster, waitFor } from '../lib/cluster.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SIZE = arg('--size', '512M');
const RUNTIME_S = Number(arg('--runtime', '5'));
const DOG_MIB = Number(arg('--dog-mib', '1024'));
const REQUESTS = Number(arg('--requests', '2000'));
const ROUNDS = Number(arg('--rounds', '3'));
const DOG_ONLY = process.argv.includes('--dog-only');
const LATENCY_ONLY = process.argv.includes('--latency-only');
const IODEPTH = 16;
const MiB = 1024 * 1024;
/** the original's programs (SHEEPDOG_ORIGINAL_BIN overrides, e.g. when running from a copy of the tree) */
const ORIG_BIN = process.env.SHEEPDOG_ORIGINAL_BIN ?? join(ROOT, '../shared/original/bin');
const ORIG_DOG = join(ORIG_BIN, 'dog');

/** One side of the comparison: how to reach its sheep, its dog and its volume. */
interface Side {
  name: string;
  port: number;
  dogPath: string;
  volume: string;
  /** its three sheep, for the CPU they spend per request */
  sheepPids(): number[];
  dog(args: readonly string[], input?: Buffer | string): ReturnType<typeof run>;
}

// --- the original's cluster and sheepfs --------------------------------------

/** Processes of the original we started (each spawned in its own process group). */
const started: number[] = [];

function spawnGroup(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string }): number {
  const out = createWriteStream(opts.log);
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  child.on('error', () => {});
  started.push(child.pid!);
  return child.pid!;
}

function killGroups(): number[] {
  const pids = started.splice(0);
  for (const pid of pids) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
  return pids;
}
process.on('exit', killGroups);

async function origNodes(port: number): Promise<number> {
  const r = await run(ORIG_DOG, ['node', 'list', '-r', '-a', '127.0.0.1', '-p', String(port)], { timeoutMs: 10_000 }).catch(() => null);
  return r && r.code === 0 ? r.out.trim().split('\n').filter(Boolean).length : -1;
}

/** The original's sheep processes (started with -f: the spawned process is the daemon). */
const origSheepPids: number[] = [];

async function startOriginal(work: string): Promise<number[]> {
  const ports = await freePorts(3);
  const shm = join(work, 'orig-shm');
  writeFileSync(shm, '');
  for (let i = 0; i < 3; i++) {
    const dir = join(work, `orig${i}`);
    mkdirSync(dir, { recursive: true });
    // one after another: its local driver purges /tmp/sheepdog_locks at start
    origSheepPids[i] = spawnGroup(join(ORIG_BIN, 'sheep'), ['-f', '-b', '127.0.0.1', '-p', String(ports[i]), '-z', String(i), '-n',
      '-c', `local:${shm}`, dir], { log: join(work, `orig${i}.out`) });
    await waitFor(`original sheep ${i}`, async () => (await origNodes(ports[0]!)) === i + 1, 30_000, 200);
  }
  const f = await run(ORIG_DOG, ['cluster', 'format', '-c', '3', '-a', '127.0.0.1', '-p', String(ports[0])], { timeoutMs: 30_000 });
  if (f.code !== 0) throw new Error(`original format: ${f.stderr}`);
  return ports;
}

function fuseMounted(mnt: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
}

/** The original's sheepfs, foreground, in its own group; attaches `vdi` and returns the volume path. */
async function origSheepfs(work: string, port: number, vdi: string): Promise<{ volume: string; mnt: string; pid: number }> {
  const mnt = join(work, 'orig-mnt');
  mkdirSync(mnt, { recursive: true });
  // it shells out to `dog` (found on PATH) and keeps its state in $PWD/.sheepfs
  const pid = spawnGroup(join(ORIG_BIN, 'sheepfs'), ['-f', '-p', String(port), mnt],
    { cwd: work, env: { PATH: `${ORIG_BIN}:${process.env.PATH}` }, log: join(work, 'orig-sheepfs.out') });
  await waitFor('the original sheepfs mount', () => fuseMounted(mnt) && existsSync(join(mnt, 'vdi/mount')), 20_000);
  writeFileSync(join(mnt, 'vdi/mount'), `${vdi}\n`);
  const volume = join(mnt, 'volume', vdi);
  await waitFor('the original volume', () => existsSync(volume), 20_000);
  return { volume, mnt, pid };
}

// --- measurements --------------------------------------------------------------

async function timedShell(what: string, cmd: string, dogPath: string, port: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await run('bash', ['-c', cmd], {
    env: { PATH: `${dirname(dogPath)}:${process.env.PATH}`, SHEEPDOG_DOG_PORT: String(port), SHEEPDOG_DOG_ADDR: '127.0.0.1', PORT: String(port) },
    timeoutMs: 900_000,
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
  return secs;
}

// --- the table -----------------------------------------------------------------

interface Row { name: string; unit: string; ours: number; orig: number; lowerIsBetter: boolean }

function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(`${'job'.padEnd(24)}${'ours'.padStart(14)}${'original'.padStart(14)}${'ratio'.padStart(8)}`);
  for (const r of rows) {
    const d = r.unit === 'µs' || r.unit === 'IOPS' || r.unit === 'MB/s' ? 0 : 1;
    const ratio = r.lowerIsBetter ? r.orig / r.ours : r.ours / r.orig;
    console.log(`${r.name.padEnd(24)}${`${r.ours.toFixed(d)} ${r.unit}`.padStart(14)}${`${r.orig.toFixed(d)} ${r.unit}`.padStart(14)}${ratio.toFixed(2).padStart(8)}`);
  }
}

/** Alternate ours / original ROUNDS times and keep the medians. */
async function alternate(sides: [Side, Side], measure: (s: Side) => Promise<number>): Promise<[number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    a.push(await measure(sides[0]));
    b.push(await measure(sides[1]));
  }
  return [median(a), median(b)];
}

// --- the stage breakdown --------------------------------------------------------

interface StageSummary { name: string; count: number; medianUs: number; p90Us: number; meanUs: number }

async function stageBreakdown(work: string): Promise<void> {
  const prefix = join(work, 'stages');
  process.env.SHEEPDOG_STAGE_TIMES = prefix;
  const cluster = await TestCluster.start({ nodes: 3, copies: 3 });
  delete process.env.SHEEPDOG_STAGE_TIMES;
  try {
    const side: Side = {
      name: 'ours', port: cluster.port(0), dogPath: DOG, volume: '',
      sheepPids: () => [...cluster.pids.values()],
      dog: (args, input) => cluster.dog(args, { input }),
    };
    const oid = await latencyObject(side);
    const lat: Record<string, number> = {};
    for (const job of LAT_JOBS) lat[job.name] = await latency(side.port, oid, job, REQUESTS);
    for (let i = 0; i < 3; i++) await cluster.stop(i);
    console.log(`\nour request path, per stage (median µs; SHEEPDOG_STAGE_TIMES on, ${REQUESTS} requests per job, one in flight)`);
    console.log(`one-in-flight medians in this run: ${LAT_JOBS.map((j) => `${j.name} ${lat[j.name]!.toFixed(0)} µs`).join(', ')}`);
    for (let i = 0; i < 3; i++) {
      const file = readdirSync(work).find((f) => f.startsWith('stages.') && f.endsWith(`.json`) && readFileSync(join(work, f), 'utf8').includes(`"port":${cluster.port(i)}`));
      if (!file) {
        console.log(`sheep ${i}: no stage summary written`);
        continue;
      }
      const s = JSON.parse(readFileSync(join(work, file), 'utf8')) as { port: number; stages: StageSummary[] };
      console.log(`sheep ${i} (${i === 0 ? 'the gateway' : 'a peer'}):`);
      console.log(`  ${'stage'.padEnd(40)}${'count'.padStart(8)}${'median'.padStart(9)}${'p90'.padStart(9)}${'mean'.padStart(9)}`);
      for (const st of s.stages) {
        if (st.count < 100) continue;
        console.log(`  ${st.name.padEnd(40)}${String(st.count).padStart(8)}${st.medianUs.toFixed(1).padStart(9)}${st.p90Us.toFixed(1).padStart(9)}${st.meanUs.toFixed(1).padStart(9)}`);
      }
    }
  } finally {
    await cluster.cleanup();
  }
}

// --- main -----------------------------------------------------------------------

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'vs-original-'));
  try {
    if (!process.argv.includes('--stages-only')) await compare(work);
    if (!DOG_ONLY && !LATENCY_ONLY) await stageBreakdown(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The fio jobs on each side's sheepfs volume, then the one-in-flight latencies. */
async function fioAndLatency(
  work: string, sides: [Side, Side],
  setMount: (m: Mount) => void, setOrig: (o: { volume: string; mnt: string; pid: number }) => void,
): Promise<void> {
  const [ours, theirs] = sides;
  const oids = new Map<Side, bigint>();
  for (const s of sides) oids.set(s, await latencyObject(s));
  const ourMount = await mountSheepfs(join(work, 'our-mnt'), ours.port);
  setMount(ourMount);
  ours.volume = join(work, 'our-mnt/vdi/fio.img/volume');
  const orig = await origSheepfs(work, theirs.port, 'fio.img');
  setOrig(orig);
  theirs.volume = orig.volume;
  // allocate every object first: reads of a thin VDI's holes would measure nothing
  for (const s of sides) {
    const fill = await run('fio', ['--name=fill', `--filename=${s.volume}`, '--rw=write', '--bs=1M', `--size=${SIZE}`,
      '--direct=1', '--ioengine=libaio', '--iodepth=16'], { timeoutMs: 600_000 });
    if (fill.code !== 0) throw new Error(`${s.name} fill: ${fill.stderr}`);
  }

  const fioRows: Row[] = [];
  for (const job of FIO_JOBS) {
    const [a, b] = await alternate(sides, (s) => runFio([`--filename=${s.volume}`, '--direct=1', '--ioengine=libaio'], job, { size: SIZE, runtimeS: RUNTIME_S, iodepth: IODEPTH }));
    fioRows.push({ name: job.name, unit: job.metric, ours: a, orig: b, lowerIsBetter: false });
  }
  printTable(`fio on the sheepfs volume (direct I/O, libaio, iodepth ${IODEPTH}, ${SIZE}, ${RUNTIME_S} s per job)`, fioRows);
  await latencyTable(sides, oids);
}

/** The one-in-flight READ_OBJ / WRITE_OBJ latencies of both sides. */
async function latencyTable(sides: [Side, Side], oids: Map<Side, bigint>): Promise<void> {
  const latRows: Row[] = [];
  const cpuRows: Row[] = [];
  for (const job of LAT_JOBS) {
    const cpu = new Map<Side, number[]>(sides.map((s) => [s, []]));
    const [a, b] = await alternate(sides, async (s) => {
      const before = cpuNs(s.sheepPids());
      const us = await latency(s.port, oids.get(s)!, job, REQUESTS);
      // the loop also sends up to 200 warm-up requests
      cpu.get(s)!.push((cpuNs(s.sheepPids()) - before) / 1000 / (REQUESTS + Math.min(200, REQUESTS)));
      return us;
    });
    latRows.push({ name: job.name, unit: 'µs', ours: a, orig: b, lowerIsBetter: true });
    cpuRows.push({ name: job.name, unit: 'µs', ours: median(cpu.get(sides[0])!), orig: median(cpu.get(sides[1])!), lowerIsBetter: true });
  }
  printTable(`one request in flight to the gateway sheep (median of ${REQUESTS}, copies 3)`, latRows);
  // CPU time is far less disturbed by other work on the machine than wall-clock time
  printTable('CPU time of the three sheep per request (all threads, kernel included; /proc schedstat)', cpuRows);
}

async function compare(work: string): Promise<void> {
  let cluster: TestCluster | undefined;
  let ourMount: Mount | undefined;
  let orig: { volume: string; mnt: string; pid: number } | undefined;
  try {
    cluster = await TestCluster.start({ nodes: 3, copies: 3 });
    const origPorts = await startOriginal(work);
    const ours: Side = {
      name: 'ours', port: cluster.port(0), dogPath: DOG, volume: '',
      sheepPids: () => [...cluster!.pids.values()],
      dog: (args, input) => cluster!.dog(args, { input }),
    };
    const theirs: Side = {
      name: 'original', port: origPorts[0]!, dogPath: ORIG_DOG, volume: '',
      sheepPids: () => origSheepPids,
      dog: (args, input) => run(ORIG_DOG, [...args, '-a', '127.0.0.1', '-p', String(origPorts[0])], { input, timeoutMs: 300_000 }),
    };
    const sides: [Side, Side] = [ours, theirs];
    for (const s of sides) {
      for (const [name, size] of [['fio.img', SIZE], ['dog.img', `${DOG_MIB}M`]] as const) {
        const r = await s.dog(['vdi', 'create', name, size]);
        if (r.code !== 0) throw new Error(`${s.name}: vdi create ${name}: ${r.stderr}`);
      }
    }
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`ours vs the original C Sheepdog 1.0.1 (-O2): 3 local sheep each, -n, copies 3; ${new Date().toISOString()}`);
    console.log(`machine: ${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? '?'}, ${readFileSync('/proc/cpuinfo', 'utf8').split('\nprocessor').length} cpus, load average at start ${load}`);
    console.log(`medians of ${ROUNDS} alternating rounds; ratio > 1 means ours is better`);
    if (LATENCY_ONLY) {
      const oids = new Map<Side, bigint>();
      for (const s of sides) oids.set(s, await latencyObject(s));
      await latencyTable(sides, oids);
      return;
    }
    if (!DOG_ONLY) await fioAndLatency(work, sides, (m) => { ourMount = m; }, (o) => { orig = o; });

    const input = join(work, 'input.bin');
    await run('bash', ['-c', `head -c ${DOG_MIB * MiB} /dev/urandom > ${input}`], { timeoutMs: 300_000 });
    const dogRows: Row[] = [];
    const [w1, w2] = await alternate(sides, async (s) => DOG_MIB / await timedShell(`${s.name} dog vdi write`, `dog vdi write dog.img -a 127.0.0.1 -p $PORT < ${input}`, s.dogPath, s.port));
    dogRows.push({ name: `dog vdi write ${DOG_MIB} MiB`, unit: 'MB/s', ours: w1, orig: w2, lowerIsBetter: false });
    const [r1, r2] = await alternate(sides, async (s) => DOG_MIB / await timedShell(`${s.name} dog vdi read`, `dog vdi read dog.img -a 127.0.0.1 -p $PORT > /dev/null`, s.dogPath, s.port));
    dogRows.push({ name: `dog vdi read ${DOG_MIB} MiB`, unit: 'MB/s', ours: r1, orig: r2, lowerIsBetter: false });
    printTable('dog vdi write / read (each with its own dog; MiB/s)', dogRows);
    console.log(`\nload average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  } finally {
    await ourMount?.cleanup();
    if (orig) {
      if (fuseMounted(orig.mnt)) await run('fusermount', ['-uz', orig.mnt], { timeoutMs: 10_000 }).catch(() => {});
    }
    const pids = killGroups();
    await waitFor('the original to be gone', () => pids.every((p) => !pidAlive(p)), 10_000).catch(() => {});
    await cluster?.cleanup();
  }
}

await main();
