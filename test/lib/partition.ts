/**
 * A network partition under ZooKeeper while writes are in flight (issue 13),
 * against the history checker: the schedule of fault/partition and the soak.
 * Four hosts in network namespaces, a sheep on each (without -n), ZooKeeper
 * servers on hosts 0, 1 and 2. Hosts 2 and 3 are moved to a bridge of their
 * own: they still talk to each other but hold one ZooKeeper server of three,
 * the minority. Writers go through dog on both sides. The minority must stop
 * acknowledging (no write begun there once its sheep stopped is acknowledged);
 * after the partition heals and recovery completes, every block read through
 * every sheep holds its last acknowledged version or a later attempted one.
 *
 * With copies 3 every object keeps a copy on each side, so the majority must
 * go on writing. With copies 2 an object may have both copies on the minority:
 * the majority cannot reach them, so its progress is not required there, only
 * that nothing acknowledged anywhere is lost and that writing resumes after
 * the heal.
 *
 * Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN): see netnsMissing().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { waitFor } from './cluster.js';
import { BLOCK, History, scheduleSeed, seededRandom, type Violation } from './history.js';
import { NetnsHosts, NetnsSheep } from './netns.js';
import { describe, startWriters, stopWriters, type BlockWriter, type ScheduleResult, type Writers } from './schedule.js';
import { ZooKeeper } from './zookeeper.js';

const HOSTS = 4;
const MINORITY = [2, 3];
const MAJORITY = [0, 1];
/** inside the namespaces: clashes with nothing on the machine's loopback */
const SHEEP_PORT = 7400;
const SESSION_MS = 8000;
const VDI_SIZE = 8 * 1024 * 1024;
/** Acknowledged writes between two steps. */
const STEP_ACKS = 10;
/** Longest one dog write may take; past it the attempt's outcome is unknown. */
const DOG_WRITE_TIMEOUT_MS = 90_000;

const net = new NetnsHosts(HOSTS, '10.213.78', 'pt');
let zk: ZooKeeper | undefined;
let sheep: NetnsSheep | undefined;
let root = '';
/** the running schedule's history (its writers are stopped at cleanup if a step threw) */
let history: History | undefined;
process.on('exit', () => { sheep?.killAllSync(); net.teardown(); });

/** Writes through dog on one of the hosts `targets()` names, inside its namespace. */
function netnsWriter(s: NetnsSheep, targets: readonly number[]): BlockWriter {
  return async (block, data, random) => {
    const via = targets[Math.floor(random() * targets.length)]!;
    try {
      const r = await s.dog(via, ['vdi', 'write', 'h', String(block * BLOCK), String(BLOCK)], data, DOG_WRITE_TIMEOUT_MS);
      return r.code === 0;
    } catch {
      return undefined;
    }
  };
}

/**
 * Half the attempts through each side. Those through the minority are
 * recorded as "block version" with where they begin in the history's log.
 */
function sided(s: NetnsSheep, h: History, minorityTries: Map<string, number>): BlockWriter {
  const major = netnsWriter(s, MAJORITY);
  const minor = netnsWriter(s, MINORITY);
  let turn = 0;
  return async (block, data, random) => {
    const onMinority = turn++ % 2 === 1;
    // the writer is called right after the attempt's "try block version" line
    if (onMinority) minorityTries.set(h.log[h.log.length - 1]!.slice('try '.length), h.log.length - 1);
    return (onMinority ? minor : major)(block, data, random);
  };
}

async function settle(s: NetnsSheep): Promise<void> {
  await waitFor(`${HOSTS} members on every host`, async () => {
    for (let i = 0; i < HOSTS; i++) if ((await s.members(i)) !== HOSTS) return false;
    return true;
  }, 90_000, 500);
  await waitFor('recovery to finish on every sheep', async () => {
    for (let i = 0; i < HOSTS; i++) {
      const r = await s.dog(i, ['node', 'recovery']);
      if (r.code !== 0 || r.out.trim().split('\n').length !== 2) return false;
    }
    return true;
  }, 180_000, 500);
}

async function verify(s: NetnsSheep, h: History): Promise<Violation[]> {
  const out: Violation[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const r = await s.dog(i, ['vdi', 'read', 'h', '0', String(VDI_SIZE)], undefined, 120_000).catch(() => undefined);
    if (!r || r.code !== 0 || r.stdout.length !== VDI_SIZE) {
      out.push(...h.checkRange(0, undefined, `host ${i}: ${r?.stderr.trim() ?? 'dog timed out'}`));
    } else {
      out.push(...h.checkRange(0, r.stdout, `host ${i}`));
    }
  }
  return out;
}

/** How long the majority's writers get when their progress is not required (copies 2). */
const UNREQUIRED_PROGRESS_MS = 15_000;

/** The partition schedule with `copies`; assertion failures (the minority acknowledged a write) throw. */
export async function partitioned(name: string, copies: number, seed = scheduleSeed(name)): Promise<ScheduleResult> {
  const random = seededRandom(seed);
  root = mkdtempSync(join(tmpdir(), 'sheepdog-partition-'));
  try {
    return { name, seed, ...await partitionedIn(name, copies, random) };
  } finally {
    // the next test builds its own hosts, ensemble and sheep
    // writers a failed step left running start nothing more; their attempts
    // in flight end once the sheep are gone (schedule.ts's withCluster does the same)
    const writersStopped = history ? stopWriters(history) : Promise.resolve();
    history = undefined;
    await sheep?.killAll();
    await writersStopped;
    sheep = undefined;
    await zk?.cleanup();
    zk = undefined;
    net.teardown();
    if (!process.env.SHEEPDOG_TEST_KEEP) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
    root = '';
  }
}

type Outcome = Omit<ScheduleResult, 'name' | 'seed'>;

async function partitionedIn(name: string, copies: number, random: () => number): Promise<Outcome> {
  net.build();
  zk = await ZooKeeper.startEnsemble([0, 1, 2].map((i) => ({ netns: net.ns(i), host: net.ip(i) })));
  const servers = [0, 1, 2].map((k) => `${net.ip(k)}:2181`).join(',');
  const s = sheep = new NetnsSheep(net, root, SHEEP_PORT, servers, SESSION_MS);
  for (let i = 0; i < HOSTS; i++) await s.start(i);
  await waitFor(`${HOSTS} members`, async () => (await s.members(0)) === HOSTS, 30_000, 200);
  let r = await s.dog(0, ['cluster', 'format', '-c', String(copies)]);
  assert.is(r.code, 0, r.stderr);
  // 1 MiB objects, preallocated: the VDI's 8 objects spread over every host
  r = await s.dog(0, ['vdi', 'create', '-P', '-z', '20', 'h', String(VDI_SIZE)]);
  assert.is(r.code, 0, r.stderr);

  const h = new History(VDI_SIZE / BLOCK);
  const minorityTries = new Map<string, number>();
  history = h;
  const w = startWriters(h, random, 4, sided(s, h, minorityTries));
  return partitionAndHeal(name, copies, s, h, minorityTries, w);
}

async function partitionAndHeal(
  name: string, copies: number, s: NetnsSheep, h: History, minorityTries: Map<string, number>, w: Writers,
): Promise<Outcome> {
  const acks = (n: number) => waitFor(`${n} acknowledged writes`, () => h.acks >= n, 120_000, 50);
  await acks(STEP_ACKS);

  h.log.push(`# partition: ${MINORITY.join(',')} | ${MAJORITY.join(',')}`);
  net.partition(MINORITY);
  // the minority's sheep lose their ZooKeeper session and stop serving
  await waitFor('the minority to refuse I/O', async () => {
    for (const i of MINORITY) if ((await s.dog(i, ['vdi', 'read', 'h', '0', '512'])).code === 0) return false;
    return true;
  }, SESSION_MS * 5, 200);
  const stoppedAt = h.log.length;
  h.log.push('# the minority refuses I/O');
  console.log(`${name}: the minority refuses I/O (${h.summary()})`);
  await waitFor('the majority to go on with 2 members', async () => (await s.members(0)) === 2, SESSION_MS * 5, 200);
  h.log.push('# the majority has 2 members');
  console.log(`${name}: the majority goes on with 2 members (${h.summary()})`);
  if (copies >= 3) await acks(h.acks + STEP_ACKS);
  else {
    const from = h.acks;
    await waitFor('the majority to write a while', () => h.acks >= from + STEP_ACKS, UNREQUIRED_PROGRESS_MS, 50).catch(() => {});
    console.log(`${name}: ${h.acks - from} writes acknowledged by the majority in the partition (not required with copies 2)`);
  }

  console.log(`${name}: healing (${h.summary()})`);
  h.log.push('# healed');
  net.heal();
  await zk!.waitServing(30_000);
  await acks(h.acks + STEP_ACKS);
  await w.stop();
  await settle(s);

  // no write begun on the minority once it refused I/O was acknowledged before the heal
  const healedAt = h.log.indexOf('# healed');
  const ackedBeforeHeal = new Set(h.log.slice(stoppedAt, healedAt).filter((l) => l.startsWith('ack ')).map((l) => l.slice('ack '.length)));
  const minorityAcked = [...minorityTries].filter(([k, at]) => at >= stoppedAt && ackedBeforeHeal.has(k)).map(([k]) => k);
  const v = await verify(s, h);
  console.log(`${name}: ${h.summary()}; ${v.length} violations${v.length ? `\n${describe(v)}` : ''}`);
  assert.equal(minorityAcked, [], 'no write begun on the stopped minority was acknowledged before the partition healed');
  // one fault: the partition (4 sheep cut in two)
  return { tries: h.tries, acks: h.acks, faults: 1, violations: v, torn: h.tornByFailure.size };
}
