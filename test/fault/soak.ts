/**
 * On demand (not in `npm test`): random fault schedules against the history
 * checker for a given time, then a report of writes acknowledged, faults
 * injected and violations found (exit 1 on any).
 *
 *   npm run build && node build/test/fault/soak.js [MINUTES=30] [SEED]
 *
 * Every schedule prints its own seed; `SHEEPDOG_TEST_SEED=N` with the matching
 * test in test/fault/history.test.ts (or here, as SEED) replays it.
 */
import { scheduleSeed, seededRandom } from '../lib/history.js';
import { netnsMissing } from '../lib/netns.js';
import { partitioned } from '../lib/partition.js';
import {
  describe, diskEio, ecPairs, ecThree, killAll, killCopiesMinusOne, objectCacheCut, powerCut, slowSheep, type ScheduleResult,
} from '../lib/schedule.js';

const minutes = Number(process.argv[2] ?? 30);
const random = seededRandom(scheduleSeed('soak', process.argv[3] ? Number(process.argv[3]) : undefined));
const until = Date.now() + minutes * 60_000;
const results: ScheduleResult[] = [];

/** The schedules a soak draws from, each from the soak's random source (a partition needs root for network namespaces). */
const noNetns = netnsMissing();
if (noNetns) console.log(`soak: no partition schedules: ${noNetns}`);
const KINDS = ['kill', 'killall', 'powercut', 'ec-pairs', 'ec-three', 'slow', 'disk-eio', 'object-cache',
  ...(noNetns ? [] : ['partition'] as const)] as const;
/** Pairs killed in one ec-pairs schedule of a soak. */
const SOAK_EC_PAIRS = 3;

while (Date.now() < until) {
  const copies = random() < 0.5 ? 2 : 3;
  const journal = random() < 0.5;
  const ec = random() < 0.25;
  const sheepfs = random() < 0.3;
  const kind = KINDS[Math.floor(random() * KINDS.length)]!;
  const mode = (['all', 'random', 'torn'] as const)[Math.floor(random() * 3)]!;
  const seed = Math.floor(random() * 2 ** 31);
  const setup = { copies, journal, ec: ec && kind === 'kill', sheepfs: sheepfs && ['kill', 'slow', 'killall', 'powercut'].includes(kind) };
  const layout = setup.ec ? 'ec4:2' : `c${copies}`;
  const name = `${setup.sheepfs ? 'sheepfs-' : ''}${kind === 'kill' ? `kill${setup.ec ? 2 : copies - 1}` : kind === 'powercut' ? `powercut-${mode}` : kind}`
    + `${kind.startsWith('ec-') ? '' : `-${layout}`}${journal && !kind.startsWith('ec-') && kind !== 'partition' ? '-j' : ''}`;
  console.log(`${name}: seed ${seed}`);
  try {
    results.push(await (
      kind === 'kill' ? killCopiesMinusOne(name, setup, seed)
        : kind === 'killall' ? killAll(name, setup, seed)
          : kind === 'powercut' ? powerCut(name, setup, mode, seed)
            : kind === 'ec-pairs' ? ecPairs(name, SOAK_EC_PAIRS, seed)
              : kind === 'ec-three' ? ecThree(name, seed)
                : kind === 'slow' ? slowSheep(name, setup, seed)
                  : kind === 'disk-eio' ? diskEio(name, setup, seed)
                    : kind === 'partition' ? partitioned(name, copies, seed)
                      : objectCacheCut(name, setup, mode, seed)));
  } catch (e) {
    console.log(`${name} (seed ${seed}) did not finish: ${(e as Error).message}`);
    results.push({ name, seed, tries: 0, acks: 0, faults: 0, torn: 0, violations: [{ block: -1, where: 'harness', kind: 'unreadable', detail: (e as Error).message }] });
  }
}

const sum = (f: (r: ScheduleResult) => number) => results.reduce((a, r) => a + f(r), 0);
const bad = results.filter((r) => r.violations.length > 0);
console.log(`soak: ${results.length} schedules in ${minutes} min, ${sum((r) => r.tries)} writes tried, `
  + `${sum((r) => r.acks)} acknowledged, ${sum((r) => r.faults)} faults injected mid-write (sheep killed, stopped, disks cut or failing), `
  + `${sum((r) => r.violations.length)} violations (${sum((r) => r.torn)} blocks torn by their own failed 4:2 write, accepted: the write hole)`);
const kinds = new Map<string, number>();
for (const r of results) kinds.set(r.name, (kinds.get(r.name) ?? 0) + 1);
console.log(`soak: schedules run: ${[...kinds].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
for (const r of bad) console.log(`${r.name} seed ${r.seed}:\n${describe(r.violations)}`);
process.exit(bad.length > 0 ? 1 : 0);
