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
import { describe, killAll, killCopiesMinusOne, powerCut, type ScheduleResult } from '../lib/schedule.js';

const minutes = Number(process.argv[2] ?? 30);
const random = seededRandom(scheduleSeed('soak', process.argv[3] ? Number(process.argv[3]) : undefined));
const until = Date.now() + minutes * 60_000;
const results: ScheduleResult[] = [];

while (Date.now() < until) {
  const copies = random() < 0.5 ? 2 : 3;
  const journal = random() < 0.5;
  const ec = random() < 0.25;
  const kind = (['kill', 'killall', 'powercut'] as const)[Math.floor(random() * 3)]!;
  const mode = (['all', 'random', 'torn'] as const)[Math.floor(random() * 3)]!;
  const seed = Math.floor(random() * 2 ** 31);
  const name = `${kind === 'kill' ? `kill${ec ? 2 : copies - 1}` : kind === 'powercut' ? `powercut-${mode}` : kind}-${ec ? 'ec4:2' : `c${copies}`}${journal ? '-j' : ''}`;
  console.log(`${name}: seed ${seed}`);
  const setup = { copies, journal, ec };
  try {
    results.push(await (kind === 'kill' ? killCopiesMinusOne(name, setup, seed)
      : kind === 'killall' ? killAll(name, setup, seed) : powerCut(name, setup, mode, seed)));
  } catch (e) {
    console.log(`${name} (seed ${seed}) did not finish: ${(e as Error).message}`);
    results.push({ name, seed, tries: 0, acks: 0, faults: 0, violations: [{ block: -1, where: 'harness', kind: 'unreadable', detail: (e as Error).message }] });
  }
}

const sum = (f: (r: ScheduleResult) => number) => results.reduce((a, r) => a + f(r), 0);
const bad = results.filter((r) => r.violations.length > 0);
console.log(`soak: ${results.length} schedules in ${minutes} min, ${sum((r) => r.tries)} writes tried, `
  + `${sum((r) => r.acks)} acknowledged, ${sum((r) => r.faults)} sheep killed (or cut) mid-write, ${sum((r) => r.violations.length)} violations`);
for (const r of bad) console.log(`${r.name} seed ${r.seed}:\n${describe(r.violations)}`);
process.exit(bad.length > 0 ? 1 : 0);
