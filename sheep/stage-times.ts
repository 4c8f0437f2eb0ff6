import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * Per-stage timings of the request path, for finding where a request's time
 * goes (test/bench/vs-original.ts prints them). Off unless the environment
 * variable SHEEPDOG_STAGE_TIMES names a file prefix; then every stage records
 * its duration and at exit the sheep writes PREFIX.PID.json (count, median,
 * p90 and mean per stage, in µs). Off, a stage costs one boolean test.
 */
const PREFIX = process.env.SHEEPDOG_STAGE_TIMES;
export const STAGE_TIMES_ON = PREFIX !== undefined && PREFIX !== '';
/** Samples kept per stage (the rest are counted in the mean only). */
const SAMPLES_MAX = 200_000;

interface Samples { values: Float64Array; count: number; sum: number }
const stages = new Map<string, Samples>();
let port = 0;

/** Milliseconds, monotonic; 0 when timing is off (so callers need not test). */
export function stageNow(): number {
  return STAGE_TIMES_ON ? performance.now() : 0;
}

/** Record one duration (ms) of a stage; a no-op when timing is off. */
export function stageRecord(name: string, ms: number): void {
  if (!STAGE_TIMES_ON) return;
  let s = stages.get(name);
  if (!s) stages.set(name, s = { values: new Float64Array(SAMPLES_MAX), count: 0, sum: 0 });
  if (s.count < SAMPLES_MAX) s.values[s.count] = ms;
  s.count++;
  s.sum += ms;
}

/** Record the time since `since` (a stageNow() value) under `name`. */
export function stageSince(name: string, since: number): void {
  if (STAGE_TIMES_ON) stageRecord(name, performance.now() - since);
}

export interface StageSummary { name: string; count: number; medianUs: number; p90Us: number; meanUs: number }

export function stageSummary(): StageSummary[] {
  const out: StageSummary[] = [];
  for (const [name, s] of stages) {
    const v = s.values.slice(0, Math.min(s.count, SAMPLES_MAX)).sort();
    out.push({
      name, count: s.count,
      medianUs: 1000 * v[Math.floor(v.length / 2)]!,
      p90Us: 1000 * v[Math.floor(v.length * 0.9)]!,
      meanUs: (1000 * s.sum) / s.count,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Write the summary at exit (the port tells the sheep of one machine apart). */
export function stageTimesAtExit(listenPort: number): void {
  if (!STAGE_TIMES_ON) return;
  port = listenPort;
  process.on('exit', () => {
    writeFileSync(`${PREFIX}.${process.pid}.json`, JSON.stringify({ port, stages: stageSummary() }));
  });
}
