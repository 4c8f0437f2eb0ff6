/**
 * Scale bench: N real sheep on loopback under one real ZooKeeper (N = 10, 30,
 * 100 by default), each with a small store. For every N it reports
 *  - the time until all N are members (every sheep lists N), and until every
 *    sheep agrees on the epoch after `dog cluster format`;
 *  - idle RSS per sheep (mean and max over the N, from /proc);
 *  - `dog` latency (node list, vdi list, cluster info, vdi create; median of a few);
 *  - with data written (1 MiB objects, 3 copies): epoch agreement after a new
 *    sheep (empty store, own zone) joins and after it is killed (-9), the
 *    object copies and bytes each event moved (counted on disk) against the
 *    ideal 1/(N+1) share, and the recovery throughput (bytes moved / time
 *    from the event to recovery done).
 * With --soak it then runs, at the largest N, 5 rounds of kill -9 / restart of
 * a random sheep while a VDI is written, and reads it back by sha256.
 *
 * Run: npm run build && node build/test/bench/scale.js [N,N,...] [--soak] [--rounds N] [--data MiB] [--session MS] [--form-only]
 * The machine is shared: sheep start in batches, every wait has a deadline,
 * and every process started is killed by PID at the end, also on failure.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SheepConnection } from '../../shared/client.js';
import { SdHeader } from '../../shared/proto/header.js';
import { opName, SD_OP } from '../../shared/proto/opcodes.js';
import { decodeRecoveryState, RECOVERY_STATE_SIZE } from '../../shared/proto/recovery.js';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { staleCopies } from '../lib/recovery.js';
import { ZooKeeper } from '../lib/zookeeper.js';
import { ZkSession } from '../../sheep/cluster/zk-client.js';
import { DEFAULT_ZK_BASE } from '../../sheep/cluster/zookeeper.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
/** Options that take a value; any other argument not starting with -- is the list of sizes. */
const VALUED = ['--data', '--session', '--rounds'];
const positional = args.filter((a, i) => !a.startsWith('--') && !VALUED.includes(args[i - 1] ?? ''));
const SIZES = (positional[0] ?? '10,30,100').split(',').map(Number);
const SOAK = flag('--soak');
/** --form-only: stop after formation, idle memory and idle CPU. */
const FORM_ONLY = flag('--form-only');
const DATA_MIB = Number(option('--data') ?? 512);
const MiB = 1024 * 1024;
const COPIES = 3;
/** Sheep started at once: the machine has 2 cores shared with other work. */
const START_BATCH = 5;
/** ZooKeeper session timeout (--session MS): long enough that a loaded machine does not expire live sheep. */
const SESSION_MS = Number(option('--session') ?? 10_000);
/** Bounds of every wait (the machine is shared and slow under load). */
const FORM_TIMEOUT_MS = 600_000;
const EPOCH_TIMEOUT_MS = 180_000;
const RECOVERY_TIMEOUT_MS = 600_000;
/** How long the cluster sits idle before RSS is read. */
const IDLE_SETTLE_MS = 10_000;
/** The window idle CPU is measured over. */
const IDLE_CPU_WINDOW_MS = 10_000;
/** Runs of each timed dog command (median reported). */
const DOG_RUNS = 5;
/** Kill -9 / restart rounds of the soak (--rounds N). */
const SOAK_ROUNDS = Number(option('--rounds') ?? 5);
const SOAK_VDI_MIB = 64;
const SOAK_CHUNK = MiB;
/** How long the soak may run while a write keeps failing before the bench gives up. */
const SOAK_WRITE_DEADLINE_MS = 1_800_000;
/** USER_HZ of /proc/PID/stat times (100 on Linux). */
const CLOCK_TICKS = 100;

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A sheep's view: epoch and member count (GET_NODE_LIST), undefined when it does not answer. */
async function view(port: number): Promise<{ epoch: number; nodes: number } | undefined> {
  let c: SheepConnection | undefined;
  try {
    c = await SheepConnection.connect({ host: '127.0.0.1', port }, 2000);
    const r = await c.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, 491520), undefined, 5000);
    return { epoch: r.hdr.epoch, nodes: r.hdr.rspNrNodes };
  } catch {
    return undefined;
  } finally {
    c?.close();
  }
}

async function inRecovery(port: number): Promise<boolean> {
  let c: SheepConnection | undefined;
  try {
    c = await SheepConnection.connect({ host: '127.0.0.1', port }, 2000);
    const r = await c.request(SdHeader.request(SD_OP.STAT_RECOVERY, 0, RECOVERY_STATE_SIZE), undefined, 5000);
    return decodeRecoveryState(r.data).inRecovery;
  } catch {
    return true; // not answering is not done
  } finally {
    c?.close();
  }
}

/** Views of the given sheep, a few at a time so polling 100 sheep does not swamp the machine. */
async function views(cluster: TestCluster, sheep: readonly number[]) {
  const out: ({ epoch: number; nodes: number } | undefined)[] = [];
  for (let i = 0; i < sheep.length; i += 20) {
    out.push(...await Promise.all(sheep.slice(i, i + 20).map((s) => view(cluster.port(s)))));
  }
  return out;
}

/** Wait until every listed sheep sees `n` members at one epoch (above `after`); returns that epoch. */
async function waitAgreed(cluster: TestCluster, sheep: readonly number[], n: number, after = -1, timeoutMs = EPOCH_TIMEOUT_MS): Promise<number> {
  let epoch = -1;
  await waitFor(`${sheep.length} sheep to agree on ${n} members`, async () => {
    const vs = await views(cluster, sheep);
    if (vs.some((v) => !v || v.nodes !== n || v.epoch !== vs[0]!.epoch || v.epoch <= after)) return false;
    epoch = vs[0]!.epoch;
    return true;
  }, timeoutMs, 200);
  return epoch;
}

/** Object file name -> size, of every live copy on sheep i. */
function objects(cluster: TestCluster, i: number): Map<string, number> {
  const out = new Map<string, number>();
  let names: string[];
  try {
    names = readdirSync(cluster.objDir(i));
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^[0-9a-f]{16}$/.test(name)) continue;
    try { out.set(name, statSync(join(cluster.objDir(i), name)).size); } catch { /* removed meanwhile */ }
  }
  return out;
}

const snapshot = (cluster: TestCluster, sheep: readonly number[]) => new Map(sheep.map((i) => [i, objects(cluster, i)]));

/** Copies (and their bytes) present on a sheep after that were not on it before. */
function received(before: Map<number, Map<string, number>>, after: Map<number, Map<string, number>>) {
  let copies = 0, bytes = 0;
  for (const [i, objs] of after) {
    const had = before.get(i) ?? new Map<string, number>();
    for (const [name, size] of objs) if (!had.has(name)) { copies++; bytes += size; }
  }
  return { copies, bytes };
}

/** Wait for recovery to finish: no sheep recovering, no stale copies, every object at full redundancy. */
async function waitRecovered(cluster: TestCluster, sheep: readonly number[], objectsTotal: number): Promise<void> {
  await waitFor('recovery to finish', async () => {
    for (let i = 0; i < sheep.length; i += 20) {
      const busy = await Promise.all(sheep.slice(i, i + 20).map((s) => inRecovery(cluster.port(s))));
      if (busy.some(Boolean)) return false;
    }
    if (sheep.some((i) => staleCopies(cluster, i).length > 0)) return false;
    let live = 0;
    for (const i of sheep) live += objects(cluster, i).size;
    return live === objectsTotal * COPIES;
  }, RECOVERY_TIMEOUT_MS, 500);
}

/**
 * Memory of one process in MiB: RSS counts the node binary's pages, which all
 * sheep share; PSS divides shared pages among their users; anonymous is what
 * this sheep alone adds (heaps, buffers, LevelDB caches).
 */
function memoryMiB(pid: number): { rss: number; pss: number; anon: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN) / 1024;
  return { rss: kb('Rss'), pss: kb('Pss'), anon: kb('Anonymous') };
}

/** Start sheep a batch at a time, each batch admitted (every sheep up lists them all) before the next. */
async function startBatch(cluster: TestCluster, ids: readonly number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += START_BATCH) {
    // all of a batch settle before a failure is raised, so none comes up unrecorded after cleanup
    const starts = await Promise.allSettled(ids.slice(i, i + START_BATCH).map((s) => cluster.startSheep(s)));
    const failed = starts.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const up = ids.slice(0, i + START_BATCH);
    await waitAgreed(cluster, up, up.length, -1, FORM_TIMEOUT_MS);
  }
}

/**
 * A sheep whose start timed out may still come up after the launcher was
 * killed: find it by its pid file in the cluster's directory and kill it by
 * PID (only a process whose command line names that directory).
 */
function killUnrecorded(cluster: TestCluster): void {
  const recorded = new Set(cluster.pids.values());
  for (const name of readdirSync(cluster.root)) {
    if (!name.endsWith('.pid')) continue;
    const pid = Number(readFileSync(join(cluster.root, name), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0 || recorded.has(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cluster.root)) continue;
      process.kill(pid, 'SIGKILL');
      console.log(`killed sheep ${pid}, started but not recorded`);
    } catch { /* gone */ }
  }
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

async function dogMedian(cluster: TestCluster, argv: (k: number) => string[]): Promise<number> {
  const times: number[] = [];
  for (let k = 0; k < DOG_RUNS; k++) {
    const t0 = performance.now();
    const r = await cluster.dog(argv(k));
    if (r.code !== 0) throw new Error(`dog ${argv(k).join(' ')}: ${r.stderr}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function writeVdi(cluster: TestCluster, name: string, data: Buffer, offset = 0, port?: number): Promise<void> {
  const r = await cluster.dog(['vdi', 'write', name, String(offset), String(data.length)], { input: data, port, timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`vdi write ${name}: ${r.stderr}`);
}

/**
 * The cluster event log in ZooKeeper: the highest event number (how many
 * events the cluster has had) and how many are kept (the master trims what
 * every member has read).
 */
async function logEvents(zk: ZooKeeper): Promise<string> {
  const s = await ZkSession.connect({ servers: zk.connectString, sessionTimeoutMs: 10_000 });
  try {
    const names = (await s.getChildren(`${DEFAULT_ZK_BASE}/queue`)).filter((x) => /^\d{10}$/.test(x));
    const kinds = new Map<string, number>();
    for (const name of names) {
      // an event: an 8-byte nonce, then a 4-byte length and the JSON header of the engine's frame
      const raw = await s.getData(`${DEFAULT_ZK_BASE}/queue/${name}`);
      if (!raw || raw.length < 12) continue;
      const jsonEnd = 12 + raw.readUInt32LE(8);
      let t = String((JSON.parse(raw.subarray(12, jsonEnd).toString()) as { t?: unknown }).t);
      // a broadcast's payload: a 4-byte token, then the op's request header (opcode in its second byte)
      if (t === 'notify' && raw.length > jsonEnd + 5) t = opName(raw[jsonEnd + 5]!);
      kinds.set(t, (kinds.get(t) ?? 0) + 1);
    }
    const nums = names.map(Number);
    const byKind = [...kinds].sort((a, b) => b[1] - a[1]).map(([t, k]) => `${k} ${t}`).join(', ');
    return `${nums.length === 0 ? 0 : Math.max(...nums)} events so far, ${nums.length} kept (${byKind})`;
  } catch (e) {
    return `not read (${(e as Error).message})`;
  } finally {
    await s.close();
  }
}

async function readVdi(cluster: TestCluster, name: string, port?: number): Promise<Buffer> {
  const r = await cluster.dog(['vdi', 'read', name], { port, timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`vdi read ${name}: ${r.stderr}`);
  return r.stdout;
}

async function bench(n: number, soak: boolean): Promise<void> {
  console.log(`\n== N = ${n} sheep, zookeeper driver (session ${SESSION_MS} ms), ${COPIES} copies, ${DATA_MIB} MiB of data in 1 MiB objects`);
  const zk = await ZooKeeper.start();
  let cluster: TestCluster | undefined;
  try {
    cluster = await TestCluster.start({ nodes: 0, ports: n + 1, driver: `zookeeper:${zk.connectString},timeout=${SESSION_MS}` });
    const c = cluster;
    const all = Array.from({ length: n }, (_, i) => i);
    let t0 = performance.now();
    await startBatch(c, all);
    const started = performance.now() - t0;
    await waitAgreed(c, all, n, -1, FORM_TIMEOUT_MS);
    const members = performance.now() - t0;
    t0 = performance.now();
    const f = await c.dog(['cluster', 'format', '-c', String(COPIES)], { timeoutMs: 300_000 });
    if (f.code !== 0) throw new Error(`format: ${f.stderr}`);
    let epoch = await waitAgreed(c, all, n, 0);
    const formCpu = all.reduce((sum, i) => sum + cpuSeconds(c.pids.get(i)!), 0);
    console.log(`formation: all ${n} started in ${sec(started)} (batches of ${START_BATCH}, each admitted before the next),` +
      ` all members in ${sec(members)}; format and every sheep at epoch ${epoch} in ${sec(performance.now() - t0)};` +
      ` CPU used by the sheep so far ${formCpu.toFixed(0)} s (${(formCpu / n).toFixed(1)} s a sheep)`);

    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const cpu0 = all.map((i) => cpuSeconds(c.pids.get(i)!));
    await new Promise((r) => setTimeout(r, IDLE_CPU_WINDOW_MS));
    const idleCpu = all.reduce((sum, i, k) => sum + cpuSeconds(c.pids.get(i)!) - cpu0[k]!, 0) / (IDLE_CPU_WINDOW_MS / 1000);
    console.log(`idle CPU: ${(idleCpu / n * 100).toFixed(2)}% of a core a sheep, ${(idleCpu * 100).toFixed(0)}% for all ${n}`);
    if (FORM_ONLY) return;
    const mem = all.map((i) => memoryMiB(c.pids.get(i)!));
    const stat = (k: 'rss' | 'pss' | 'anon') => {
      const xs = mem.map((m) => m[k]);
      const mean = xs.reduce((s, x) => s + x, 0) / n;
      return `${mean.toFixed(1)} (max ${Math.max(...xs).toFixed(1)})`;
    };
    const pssSum = mem.reduce((s, m) => s + m.pss, 0);
    console.log(`idle memory per sheep, MiB mean (max): RSS ${stat('rss')}, PSS ${stat('pss')}, anonymous ${stat('anon')};` +
      ` all ${n} together (sum of PSS) ${(pssSum / 1024).toFixed(2)} GiB`);

    const lat = {
      'node list': await dogMedian(c, () => ['node', 'list']),
      'vdi list': await dogMedian(c, () => ['vdi', 'list']),
      'cluster info': await dogMedian(c, () => ['cluster', 'info']),
      'vdi create': await dogMedian(c, (k) => ['vdi', 'create', `lat${k}`, '1G']),
    };
    console.log(`dog latency (median of ${DOG_RUNS}): ` + Object.entries(lat).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', '));

    let r = await c.dog(['vdi', 'create', '-z', '20', 'data', `${DATA_MIB}M`]);
    if (r.code !== 0) throw new Error(`create data: ${r.stderr}`);
    const data = randomBytes(DATA_MIB * MiB);
    t0 = performance.now();
    await writeVdi(c, 'data', data);
    console.log(`wrote ${DATA_MIB} MiB through dog in ${sec(performance.now() - t0)}`);
    // data objects + the inodes of 'data' and of the lat* VDIs (a created VDI has its inode only)
    const objectsTotal = DATA_MIB + 1 + DOG_RUNS;
    await waitRecovered(c, all, objectsTotal);

    // a join: a new sheep with an empty store in a zone of its own; then it leaves by kill -9
    const joiner = n;
    const grown = [...all, joiner];
    const total = objectsTotal * COPIES;
    let before = snapshot(c, grown);
    t0 = performance.now();
    await c.startSheep(joiner);
    epoch = await waitAgreed(c, grown, n + 1, epoch);
    const joinAgree = performance.now() - t0;
    await waitRecovered(c, grown, objectsTotal);
    const joinRecovered = performance.now() - t0;
    const joined = received(before, snapshot(c, grown));
    before = snapshot(c, all);
    t0 = performance.now();
    await c.kill9(joiner);
    epoch = await waitAgreed(c, all, n, epoch);
    const leaveAgree = performance.now() - t0;
    await waitRecovered(c, all, objectsTotal);
    const leaveRecovered = performance.now() - t0;
    const left = received(before, snapshot(c, all));
    const line = (what: string, agree: number, done: number, m: { copies: number; bytes: number }, ideal: number) =>
      console.log(`${what}: epoch agreed in ${sec(agree)}, recovered in ${sec(done)}; moved ${m.copies} copies` +
        ` (${(m.bytes / MiB).toFixed(0)} MiB) = ${(m.copies / total * 100).toFixed(2)}% of ${total}, ideal 1/${ideal} = ${(100 / ideal).toFixed(2)}%` +
        ` (x${(m.copies / total * ideal).toFixed(2)}); ${(m.bytes / MiB / (done / 1000)).toFixed(1)} MiB/s`);
    line(`join of sheep ${n + 1} (empty store)`, joinAgree, joinRecovered, joined, n + 1);
    line('its leave (kill -9)', leaveAgree, leaveRecovered, left, n + 1);
    const back = await readVdi(c, 'data', c.port(Math.floor(n / 2)));
    if (sha(back) !== sha(data)) throw new Error('data read back differs after leave and join');
    console.log('data read back identical after the leave and the join');
    console.log(`cluster log: ${await logEvents(zk)}`);

    if (soak) {
      await soakRounds(c, all).finally(async () => console.log(`cluster log: ${await logEvents(zk)}`));
    }
  } catch (e) {
    console.log(`FAILED at N = ${n}: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  } finally {
    const pids = [...(cluster?.pids.values() ?? [])];
    if (cluster) killUnrecorded(cluster);
    await cluster?.cleanup().catch((e) => console.log(`cleanup: ${(e as Error).message}`));
    await zk.cleanup().catch((e) => console.log(`ZooKeeper cleanup: ${(e as Error).message}`));
    console.log(`stopped ${pids.length} sheep and ZooKeeper by PID`);
  }
}

/**
 * 5 rounds of kill -9 / restart of a random sheep (never sheep 0, the writer's
 * gateway) while a writer rewrites a VDI chunk by chunk through sheep 0; then
 * every acknowledged write must read back, through another sheep.
 */
async function soakRounds(c: TestCluster, all: readonly number[]): Promise<void> {
  const n = all.length;
  console.log(`soak: ${SOAK_ROUNDS} kill -9 / restart rounds while a ${SOAK_VDI_MIB} MiB VDI is written`);
  const t0 = performance.now();
  const r = await c.dog(['vdi', 'create', 'soak', `${SOAK_VDI_MIB}M`]);
  if (r.code !== 0) throw new Error(`create soak: ${r.stderr}`);
  const image = Buffer.alloc(SOAK_VDI_MIB * MiB);
  let writing = true, writes = 0, failed = 0;
  const failures: string[] = [];
  const writer = (async () => {
    // a failed write may still have landed (on some copies, or all): its chunk
    // is written again, with new data, until a write of it is acknowledged;
    // only then does the writer move on, so every chunk ends acknowledged
    for (let k = 0; ;) {
      const off = (k % (SOAK_VDI_MIB * MiB / SOAK_CHUNK)) * SOAK_CHUNK;
      const chunk = randomBytes(SOAK_CHUNK);
      const t = performance.now();
      const w = await c.dog(['vdi', 'write', 'soak', String(off), String(SOAK_CHUNK)], { input: chunk, timeoutMs: 300_000 });
      if (w.code === 0) {
        chunk.copy(image, off);
        writes++;
        k++;
        if (!writing) break;
      } else {
        failed++;
        failures.push(`chunk ${off / SOAK_CHUNK} after ${sec(performance.now() - t)}: ${w.stderr.trim().split('\n').at(-1)}`);
        if (performance.now() - t0 > SOAK_WRITE_DEADLINE_MS) throw new Error(`no write acknowledged within ${SOAK_WRITE_DEADLINE_MS} ms`);
      }
    }
  })();
  let epoch = (await view(c.port(0)))!.epoch;
  try {
    for (let round = 1; round <= SOAK_ROUNDS; round++) {
      const victim = 1 + Math.floor(Math.random() * (n - 1));
      const tr = performance.now();
      await c.kill9(victim);
      epoch = await waitAgreed(c, all.filter((i) => i !== victim), n - 1, epoch);
      await c.startSheep(victim);
      epoch = await waitAgreed(c, all, n, epoch);
      console.log(`round ${round}: sheep ${victim} killed and back in ${sec(performance.now() - tr)}, epoch ${epoch}, ${writes} writes acknowledged so far`);
    }
  } finally {
    writing = false;
    await writer;
  }
  const back = await readVdi(c, 'soak', c.port(n - 1));
  const same = sha(back) === sha(image);
  for (const f of failures) console.log(`  failed write: ${f}`);
  console.log(`soak: ${writes} writes acknowledged, ${failed} failed (retried), in ${sec(performance.now() - t0)};` +
    ` read back through sheep ${n - 1}: ${same ? 'identical' : 'DIFFERENT'}`);
  if (!same) {
    const differ: number[] = [];
    for (let i = 0; i < SOAK_VDI_MIB * MiB / SOAK_CHUNK; i++) {
      const at = i * SOAK_CHUNK;
      if (!back.subarray(at, at + SOAK_CHUNK).equals(image.subarray(at, at + SOAK_CHUNK))) differ.push(i);
    }
    console.log(`  chunks that differ: ${differ.join(', ')} (read back ${back.length} bytes)`);
  }
  if (!same) throw new Error('soak VDI differs from what was acknowledged');
}

// a bench stopped by a signal still stops every sheep and ZooKeeper it started
// (the harness kills them by PID in its exit handlers, which a signal skips)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { console.log(`${sig}: stopping`); process.exit(1); });

console.log(`scale bench, node ${process.version}; sizes ${SIZES.join(', ')}${SOAK ? ', soak at the largest' : ''}`);
const largest = Math.max(...SIZES);
for (const n of SIZES) await bench(n, SOAK && n === largest);
