/**
 * Fault schedules against the history checker (issue 13): writers stream
 * stamped 4 KiB blocks into a VDI through `dog vdi write` while faults are
 * injected; afterwards every block is read through every sheep and checked.
 * Every random choice comes from the schedule's seed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { run, TestCluster, waitFor, type RunResult } from './cluster.js';
import { BLOCK, History, scheduleSeed, seededRandom, type Violation } from './history.js';
import { GATEWAY_REQUEST_MAX_MS } from '../../shared/timeouts.js';
import { mountSheepfs, type Mount } from '../fuse/lib.js';
import { PowerCutFs } from './powercut.js';
import type { CutMode } from './powercut-fs.js';
import { waitRecovered } from './recovery.js';

/** Longest one `dog vdi write` may take; past it the attempt's outcome is unknown (its block is poisoned). */
const DOG_WRITE_TIMEOUT_MS = 90_000;

export interface Writers {
  /** stop starting writes and wait for those in flight */
  stop(): Promise<void>;
  /** attempts whose outcome is unknown so far (the writer timed out: not a clean failure) */
  unknown(): number;
}

/** One attempt to write `data` at `block`: true acknowledged, false refused, undefined no answer in time. */
export type BlockWriter = (block: number, data: Buffer, random: () => number) => Promise<boolean | undefined>;

/** Writes through `dog vdi write`, each to one of the sheep `targets()` returns (the sheep up now). */
export function dogWriter(cluster: TestCluster, vdi: string, targets: () => number[]): BlockWriter {
  return async (block, data, random) => {
    let up = targets();
    // every sheep down (killed, not back yet): wait, but not forever (a schedule
    // that threw may never bring them back); nothing was sent, a clean failure
    const until = Date.now() + DOG_WRITE_TIMEOUT_MS;
    while (up.length === 0) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 50));
      up = targets();
    }
    const via = up[Math.floor(random() * up.length)]!;
    try {
      const r = await cluster.dog(['vdi', 'write', vdi, String(block * BLOCK), String(BLOCK)],
        { input: data, port: cluster.port(via), timeoutMs: DOG_WRITE_TIMEOUT_MS });
      return r.code === 0;
    } catch {
      return undefined;
    }
  };
}

/**
 * Writes through a sheepfs volume file: each block by its own `dd` (O_DIRECT,
 * fsync before it exits), a process of its own, so that no child is spawned
 * by the process holding the mount and a write stuck in FUSE blocks nothing else.
 */
export function sheepfsWriter(volume: string): BlockWriter {
  return async (block, data) => {
    try {
      const r = await run('dd', [`of=${volume}`, 'bs=4096', `seek=${block}`, 'count=1', 'iflag=fullblock', 'oflag=direct', 'conv=notrunc,fsync', 'status=none'],
        { input: data, timeoutMs: DOG_WRITE_TIMEOUT_MS });
      return r.code === 0;
    } catch {
      return undefined;
    }
  };
}

/** The writers of each history that were not stopped yet. */
const running = new WeakMap<History, Set<Writers>>();

/**
 * Stop every writer of `history` not stopped yet and wait for their attempts
 * in flight: a schedule that throws stops its writers too, or they would go on
 * writing into the next schedule's time (and keep the process alive).
 * No new attempt starts once this is called.
 */
export async function stopWriters(history: History): Promise<void> {
  await Promise.all([...(running.get(history) ?? [])].map((w) => w.stop()));
}

/** `count` writers, each writing one random writable block at a time with `write`. */
export function startWriters(history: History, random: () => number, count: number, write: BlockWriter): Writers {
  let stopping = false;
  let unknown = 0;
  const loop = async () => {
    while (!stopping) {
      let block = Math.floor(random() * history.blocks);
      for (let i = 0; i < history.blocks && !history.writable(block); i++) block = (block + 1) % history.blocks;
      if (!history.writable(block)) return;
      const { version, data } = history.begin(block);
      const ok = await write(block, data, random);
      if (ok) {
        history.ack(block, version);
      } else {
        history.fail(block, version);
        if (ok === undefined) {
          history.poison(block);
          unknown++;
        }
      }
    }
  };
  const loops = Array.from({ length: count }, loop);
  const writers: Writers = {
    async stop() {
      stopping = true;
      try {
        await Promise.all(loops);
      } finally {
        running.get(history)?.delete(writers);
      }
    },
    unknown: () => unknown,
  };
  let mine = running.get(history);
  if (!mine) running.set(history, mine = new Set());
  mine.add(writers);
  return writers;
}

/** Read the whole VDI through each sheep given and check every block; the violations found. */
export async function verifyThrough(cluster: TestCluster, vdi: string, history: History, sheep: number[]): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const i of sheep) {
    let r: RunResult | undefined;
    try {
      r = await cluster.dog(['vdi', 'read', vdi, '0', String(history.blocks * BLOCK)], { port: cluster.port(i), timeoutMs: 120_000 });
    } catch {
      r = undefined;
    }
    const where = `sheep ${i}`;
    if (!r || r.code !== 0 || r.stdout.length !== history.blocks * BLOCK) {
      out.push(...history.checkRange(0, undefined, `${where}: ${r?.stderr.trim() ?? 'dog timed out'}`));
      continue;
    }
    out.push(...history.checkRange(0, r.stdout, where));
  }
  return out;
}

/** Wait until all `n` sheep are members and recovery is over on each. */
export async function settle(cluster: TestCluster, sheep: number[]): Promise<void> {
  await waitFor(`${sheep.length} members on every sheep`, async () => {
    for (const i of sheep) await cluster.waitMembers(sheep.length, i);
    return true;
  }, 60_000, 500);
  await waitRecovered(cluster, sheep, 180_000);
}

/** The log lines of the first few violated blocks, with the fault markers between them. */
function historyOf(h: History, v: Violation[]): string {
  const blocks = new Set(v.slice(0, 4).map((x) => String(x.block)));
  return h.log.filter((l) => l.startsWith('#') || blocks.has(l.split(' ')[1]!)).join('\n');
}

/** A readable report of violations (the first few). */
export function describe(v: Violation[]): string {
  return v.slice(0, 8).map((x) => `block ${x.block} via ${x.where}: ${x.kind} (${x.detail})`).join('\n') + (v.length > 8 ? `\n... ${v.length - 8} more` : '');
}

const MiB = 1024 * 1024;
const VDI_SIZE = 8 * MiB;
/** The object cache of sheep 0 with `objectCache`: room for the whole VDI. */
const OBJECT_CACHE_SIZE = '64M';
const WRITERS = 4;
/** A stopped sheep stays stopped longer than every timeout (GATEWAY_REQUEST_MAX_MS, sheepfs's 35 s write wait). */
const SLOW_SHEEP_STOP_MS = GATEWAY_REQUEST_MAX_MS + 8_000;
/** Acknowledged writes between two steps of a schedule. */
const STEP_ACKS = 10;

export interface Setup {
  copies: number;
  journal: boolean;
  /** every sheep's directory on its own power-cut file system */
  powerCut?: boolean;
  /** sheep 0 has two md disks, the second on a power-cut file system (its fault switch) */
  faultyDisk?: boolean;
  /** the VDI is erasure-coded 4:2 on 6 sheep (copies is then the cluster's default only) */
  ec?: boolean;
  /** the writers write through a sheepfs volume (mounted on sheep 0; it fails over) instead of dog */
  sheepfs?: boolean;
  /** sheep 0 runs an object cache (-w) on a power-cut file system, used by sheepfs (--objectcache) */
  objectCache?: boolean;
}

/** Sheep a schedule runs, and how many of them may fail at once. */
const sheepOf = (s: Setup) => (s.ec ? 6 : s.copies + 2);
const tolerated = (s: Setup) => (s.ec ? 2 : s.copies - 1);

/** What one schedule did. */
export interface ScheduleResult {
  name: string;
  seed: number;
  tries: number;
  acks: number;
  faults: number;
  violations: Violation[];
  /** blocks a failed write left torn where that is accepted (History.tornByFailedWrites) */
  torn: number;
}

async function withCluster(
  name: string, s: Setup,
  body: (
    c: TestCluster, h: History, random: () => number, all: number[], disks: PowerCutFs[],
    writer: (targets: () => number[]) => BlockWriter,
  ) => Promise<{ what: string; faults: number }>,
  seed = scheduleSeed(name),
): Promise<ScheduleResult> {
  const random = seededRandom(seed);
  const nodes = sheepOf(s);
  const disks: PowerCutFs[] = [];
  const scratch = s.powerCut || s.faultyDisk || s.objectCache ? mkdtempSync(join(tmpdir(), 'sheepdog-powercut-')) : undefined;
  let c: TestCluster | undefined;
  let fs: Mount | undefined;
  let h: History | undefined;
  try {
    let cacheDir = '';
    c = await TestCluster.start({
      nodes, copies: s.copies, nosync: false,
      sheepArgs: (i) => [
        ...(s.journal ? ['-j', 'size=64M'] : []),
        ...(s.objectCache && i === 0 ? ['-w', `size=${OBJECT_CACHE_SIZE},dir=${cacheDir}`] : []),
      ],
      disks: s.faultyDisk ? (i, dir) => (i === 0 ? [`${dir}-d1`, `${dir}-d2`] : []) : undefined,
      prepare: !scratch ? undefined : s.objectCache
        ? async (i, dir) => {
          if (i !== 0) return;
          cacheDir = `${dir}-cache`;
          disks.push(await PowerCutFs.mount(join(scratch, 'cache'), cacheDir));
        }
        : s.powerCut
        // each sheep's whole directory (store, journal, LevelDB metadata, log) on a power-cut mount
        ? async (i, dir) => { disks.push(await PowerCutFs.mount(join(scratch, String(i)), dir)); }
        : async (i, dir) => { if (i === 0) disks.push(await PowerCutFs.mount(join(scratch, 'd2'), `${dir}-d2`)); },
    });
    // 1 MiB objects: the VDI's 8 objects spread over every sheep. Preallocated:
    // concurrent dogs must not race to create one object (a create replaces it
    // whole; a VDI has one writer, QEMU, that never does that)
    const ec = s.ec ? ['-c', '4:2'] : [];
    assert.is((await c.dog(['vdi', 'create', '-P', '-z', '20', ...ec, 'h', String(VDI_SIZE)])).code, 0);
    const hist = new History(VDI_SIZE / 4096);
    h = hist;
    const all = [...Array(nodes).keys()];
    if (s.sheepfs) fs = await mountSheepfs(`${c.dir(0)}-mnt`, c.port(0), s.objectCache ? ['--objectcache'] : []);
    const volume = fs && join(fs.mnt, 'vdi', 'h', 'volume');
    const writer = (targets: () => number[]) => (volume ? sheepfsWriter(volume) : dogWriter(c!, 'h', targets));
    const faults = await body(c, hist, random, all, disks, writer);
    await settle(c, all);
    const v = await verifyThrough(c, 'h', hist, all);
    console.log(`${name}: ${hist.summary()}; ${faults.what}; ${v.length} violations${v.length ? `\n${describe(v)}` : ''}`);
    if (v.length > 0) console.log(`${name}: the history of the first violated blocks (# lines are the faults):\n${historyOf(hist, v)}`);
    return { name, seed, tries: hist.tries, acks: hist.acks, faults: faults.faults, violations: v, torn: hist.tornByFailure.size };
  } finally {
    // writers left running by a schedule that threw start nothing more; their
    // attempts in flight end once sheepfs and the sheep are gone
    const writersStopped = h ? stopWriters(h) : Promise.resolve();
    // sheepfs goes first, then the sheep, then their mounts, then the directories
    await fs?.cleanup();
    if (c) await Promise.all([...c.pids.keys()].map((i) => c!.kill9(i)));
    await writersStopped;
    for (const d of disks) await d.cleanup();
    await c?.cleanup();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

const acksReach = (h: History, n: number) => waitFor(`${n} acknowledged writes`, () => h.acks >= n, 120_000, 50);

/** Restart the sheep given, one by one, each a writers' target again once it is up. */
async function bringBack(c: TestCluster, sheep: readonly number[], up: Set<number>): Promise<void> {
  for (const v of sheep) {
    await c.startSheep(v);
    up.add(v);
  }
}

function pick(random: () => number, from: number[], n: number): number[] {
  const pool = [...from];
  const out: number[] = [];
  while (out.length < n) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

/** kill -9 of copies-1 random sheep of copies+2 (2 of 6 for 4:2) mid-write; they come back; writes go on. */
export function killCopiesMinusOne(name: string, s: Setup, seed?: number): Promise<ScheduleResult> {
  return withCluster(name, s, async (c, h, random, all, _disks, writer) => {
    const up = new Set(all);
    const w = startWriters(h, random, WRITERS, writer(() => [...up]));
    await acksReach(h, STEP_ACKS);
    // behind sheepfs, its own sheep is one of them (it must fail over mid-write)
    const victims = s.sheepfs ? [0, ...pick(random, all.slice(1), tolerated(s) - 1)] : pick(random, all, tolerated(s));
    for (const v of victims) up.delete(v);
    await Promise.all(victims.map((v) => c.kill9(v)));
    await acksReach(h, h.acks + STEP_ACKS);
    await bringBack(c, victims, up);
    await acksReach(h, h.acks + STEP_ACKS);
    await w.stop();
    return { what: `kill -9 of sheep ${victims.join(',')} mid-write, restarted`, faults: victims.length };
  }, seed);
}

/**
 * kill -9 of every sheep mid-write, and with `cut` a power cut of every sheep's
 * disk (what was not made durable is forgotten that way); all restart, writes go on.
 */
export function killAll(name: string, s: Setup, seed?: number, cut?: CutMode): Promise<ScheduleResult> {
  return withCluster(name, cut ? { ...s, powerCut: true } : s, async (c, h, random, all, disks, writer) => {
    const up = new Set(all);
    const w = startWriters(h, random, WRITERS, writer(() => [...up]));
    await acksReach(h, STEP_ACKS);
    up.clear();
    // all at once: the signals first, then wait for each to be gone
    for (const i of all) process.kill(c.pids.get(i)!, 'SIGKILL');
    await Promise.all(all.map((i) => c.kill9(i)));
    let undone = 0;
    for (const d of disks) undone += await d.cut(cut!, Math.floor(random() * 2 ** 31));
    for (const i of pick(random, all, all.length)) await c.startSheep(i);
    for (const i of all) up.add(i);
    await acksReach(h, h.acks + STEP_ACKS);
    await w.stop();
    const power = cut ? ` and a power cut (${cut}: ${undone} changes forgotten)` : '';
    return { what: `kill -9 of every sheep mid-write${power}, restarted`, faults: all.length };
  }, seed);
}

/** kill -9 of every sheep mid-write and a power cut of every disk (`mode`), then all restart. */
export function powerCut(name: string, s: Setup, mode: CutMode, seed?: number): Promise<ScheduleResult> {
  return killAll(name, s, seed, mode);
}

/** One md disk of sheep 0 starts answering EIO mid-write (and stays so); writes go on. */
export function diskEio(name: string, s: Setup, seed?: number): Promise<ScheduleResult> {
  return withCluster(name, { ...s, faultyDisk: true }, async (c, h, random, all, disks, writer) => {
    const w = startWriters(h, random, WRITERS, writer(() => all));
    await acksReach(h, STEP_ACKS);
    await disks[0]!.fault('/', true);
    await waitFor('sheep 0 to take the failing disk out',
      () => readFileSync(join(c.dir(0), 'sheep.log'), 'utf8').includes(`disk ${c.dir(0)}-d2 failed`), 120_000, 200);
    await acksReach(h, h.acks + 2 * STEP_ACKS);
    await w.stop();
    return { what: 'EIO from one of two md disks of sheep 0 mid-write', faults: 1 };
  }, seed);
}

/**
 * A slow sheep: one sheep is stopped (SIGSTOP) for longer than every timeout
 * (the gateway's deadline, sheepfs's write wait) while the writers go through
 * the others, then continued (SIGCONT); writes go on.
 */
export function slowSheep(name: string, s: Setup, seed?: number): Promise<ScheduleResult> {
  return withCluster(name, s, async (c, h, random, all, _disks, writer) => {
    // behind sheepfs, the stopped sheep is the one sheepfs talks to
    const [slow] = s.sheepfs ? [0] : pick(random, all, 1) as [number];
    const others = all.filter((i) => i !== slow);
    const w = startWriters(h, random, WRITERS, writer(() => others));
    await acksReach(h, STEP_ACKS);
    const pid = c.pids.get(slow)!;
    process.kill(pid, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, SLOW_SHEEP_STOP_MS));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await acksReach(h, h.acks + STEP_ACKS);
    await w.stop();
    return { what: `sheep ${slow} stopped for ${SLOW_SHEEP_STOP_MS / 1000} s mid-write, then continued`, faults: 1 };
  }, seed);
}

/** Every pair of the given sheep (15 of 6), in an order drawn from `random`. */
export function pairsInOrder(random: () => number, sheep: readonly number[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < sheep.length; i++) for (let j = i + 1; j < sheep.length; j++) pairs.push([sheep[i]!, sheep[j]!]);
  return pick(random, pairs.map((_, i) => i), pairs.length).map((i) => pairs[i]!);
}

/**
 * 4:2 erasure coding on 6 sheep: `count` pairs (of the 15, in an order drawn
 * from the seed) killed -9 one pair after another while writes are in
 * flight; each pair comes back and recovery completes before the next pair
 * goes (two more down before that would be four strips short).
 */
export function ecPairs(name: string, count: number, seed?: number): Promise<ScheduleResult> {
  return withCluster(name, { copies: 2, journal: false, ec: true }, async (c, h, random, all, _disks, writer) => {
    const pairs = pairsInOrder(random, all).slice(0, count);
    // a writer's gateway may be one of the pair: its stripe write, cut off
    // after some holders took it, fails and may tear its own block (the EC
    // write hole); a block acknowledged before must never tear
    h.tornByFailedWrites = true;
    const up = new Set(all);
    const w = startWriters(h, random, WRITERS, writer(() => [...up]));
    await acksReach(h, STEP_ACKS);
    for (const pair of pairs) {
      for (const v of pair) up.delete(v);
      h.log.push(`# kill -9 of sheep ${pair.join(',')}`);
      await Promise.all(pair.map((v) => c.kill9(v)));
      await acksReach(h, h.acks + STEP_ACKS);
      h.log.push(`# sheep ${pair.join(',')} restart`);
      await bringBack(c, pair, up);
      await settle(c, all);
      h.log.push('# recovered');
    }
    await acksReach(h, h.acks + STEP_ACKS);
    await w.stop();
    assert.is(w.unknown(), 0, 'every write ended with an answer');
    return { what: `kill -9 of the pairs ${pairs.map((p) => p.join('+')).join(' ')} mid-write, each restarted and recovered`, faults: 2 * pairs.length };
  }, seed);
}

/** Outage writes: failed attempts to wait for while three of six sheep are down. */
const OUTAGE_FAILURES = 8;

/**
 * 4:2 erasure coding on 6 sheep: three killed -9 at once mid-write, one more
 * than the code tolerates. Writes must fail cleanly (an error answer, no
 * acknowledgement of a write begun in the outage, no hang); after the three
 * restart and recovery completes, every block checks.
 */
export function ecThree(name: string, seed?: number): Promise<ScheduleResult> {
  return withCluster(name, { copies: 2, journal: false, ec: true }, async (c, h, random, all, _disks, writer) => {
    const up = new Set(all);
    const w = startWriters(h, random, WRITERS, writer(() => [...up]));
    await acksReach(h, STEP_ACKS);
    const victims = pick(random, all, 3);
    // one more holder lost than 4:2 tolerates: a write failing mid-stripe may tear its own blocks
    h.tornByFailedWrites = true;
    for (const v of victims) up.delete(v);
    h.log.push(`# kill -9 of sheep ${victims.join(',')}`);
    for (const v of victims) process.kill(c.pids.get(v)!, 'SIGKILL');
    await Promise.all(victims.map((v) => c.kill9(v)));
    const outageFrom = h.log.length;
    const errorsFrom = h.errors;
    await waitFor(`${OUTAGE_FAILURES} writes to fail with 3 of 6 sheep down`,
      () => h.errors >= errorsFrom + OUTAGE_FAILURES, 120_000, 50);
    const outage = h.log.slice(outageFrom);
    const begun = new Set(outage.filter((l) => l.startsWith('try ')).map((l) => l.slice(4)));
    const ackedInOutage = outage.filter((l) => l.startsWith('ack ') && begun.has(l.slice(4)));
    assert.equal(ackedInOutage, [], 'no write begun with 3 of 6 sheep down was acknowledged');
    h.log.push(`# sheep ${victims.join(',')} restart`);
    await bringBack(c, victims, up);
    await settle(c, all);
    h.log.push('# recovered');
    await acksReach(h, h.acks + STEP_ACKS);
    await w.stop();
    assert.is(w.unknown(), 0, 'every write ended with an answer');
    return { what: `kill -9 of sheep ${victims.join(',')} at once mid-write (${h.errors - errorsFrom} writes failed), restarted`, faults: 3 };
  }, seed);
}

/**
 * The object cache: sheepfs writes through sheep 0's cache (-w on a power-cut
 * file system), each write acknowledged after fsync (FLUSH_VDI). Sheep 0 is
 * killed -9 mid-write and its cache disk cut (`mode`); sheepfs goes on through
 * another sheep; sheep 0 restarts on what its cache disk kept. What a flush
 * acknowledged must survive, and nothing the cache held may land over newer data.
 */
export function objectCacheCut(name: string, s: Setup, mode: CutMode, seed?: number): Promise<ScheduleResult> {
  return withCluster(name, { ...s, objectCache: true, sheepfs: true }, async (c, h, random, all, disks, writer) => {
    const w = startWriters(h, random, WRITERS, writer(() => all));
    await acksReach(h, STEP_ACKS);
    h.log.push('# kill -9 of sheep 0');
    await c.kill9(0);
    const undone = await disks[0]!.cut(mode, Math.floor(random() * 2 ** 31));
    h.log.push(`# cache disk cut: ${undone} changes forgotten`);
    await acksReach(h, h.acks + STEP_ACKS);
    h.log.push('# sheep 0 restarts');
    await c.startSheep(0);
    h.log.push('# sheep 0 is back');
    await acksReach(h, h.acks + STEP_ACKS);
    await w.stop();
    return { what: `kill -9 of sheep 0 (object cache) mid-write and a power cut of its cache disk (${mode}: ${undone} changes forgotten), restarted`, faults: 1 };
  }, seed);
}
