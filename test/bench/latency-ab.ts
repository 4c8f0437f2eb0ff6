/**
 * Before/after of a change to the request path, in one run: one-in-flight
 * READ_OBJ / WRITE_OBJ latency (4 KiB, 128 KiB, copies 3) against 3 local
 * sheep (-n) of this tree and of a baseline tree (another checkout, built),
 * alternating, medians of the rounds. Next to the wall-clock latency it
 * prints the CPU time the three sheep spent per request (all their threads,
 * from /proc/PID/task/TID/schedstat), which a loaded machine disturbs far
 * less. The figures in the commit messages of the request-path cuts come
 * from it.
 *
 * Usage: npx tsc -p . && node build/test/bench/latency-ab.js BASELINE_DIR [--requests 2000] [--rounds 3]
 *   BASELINE_DIR: e.g. `git archive COMMIT | tar -x -C DIR`, node_modules linked, `npx tsc -p .` there
 */
import { join, resolve } from 'node:path';
import { TestCluster as OurCluster } from '../lib/cluster.js';
import { cpuNs } from './cpu.js';
import { LAT_JOBS, latency, latencyObject, median } from './one-in-flight.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const BASE = process.argv[2];
if (!BASE || BASE.startsWith('--')) throw new Error('usage: latency-ab.js BASELINE_DIR [--requests N] [--rounds N]');
const REQUESTS = Number(arg('--requests', '2000'));
const ROUNDS = Number(arg('--rounds', '3'));

type Cluster = Pick<OurCluster, 'port' | 'dog' | 'cleanup' | 'pids'>;

async function main(): Promise<void> {
  const base = (await import(join(resolve(BASE), 'build/test/lib/cluster.js'))) as { TestCluster: typeof OurCluster };
  const clusters: [string, Cluster][] = [];
  try {
    clusters.push(['this tree', await OurCluster.start({ nodes: 3, copies: 3 })]);
    clusters.push(['baseline', await base.TestCluster.start({ nodes: 3, copies: 3 })]);
    const oids = await Promise.all(clusters.map(([name, c]) => latencyObject({ name, dog: (a, input) => c.dog(a, { input }) })));
    console.log(`one request in flight, median µs of ${REQUESTS}, median of ${ROUNDS} alternating rounds; load ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    console.log(`${''.padEnd(20)}${'latency (wall clock)'.padStart(32)}${'CPU of the 3 sheep per request'.padStart(36)}`);
    console.log(`${'request'.padEnd(20)}${'this tree'.padStart(12)}${'baseline'.padStart(12)}${'ratio'.padStart(8)}${'this tree'.padStart(14)}${'baseline'.padStart(12)}${'ratio'.padStart(8)}`);
    for (const job of LAT_JOBS) {
      const t: number[][] = [[], []];
      const cpu: number[][] = [[], []];
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < 2; i++) {
          const c = clusters[i]![1];
          const before = cpuNs(c.pids.values());
          t[i]!.push(await latency(c.port(0), oids[i]!, job, REQUESTS));
          // the loop also sends up to 200 warm-up requests
          cpu[i]!.push((cpuNs(c.pids.values()) - before) / 1000 / (REQUESTS + Math.min(200, REQUESTS)));
        }
      }
      const [a, b] = [median(t[0]!), median(t[1]!)];
      const [ca, cb] = [median(cpu[0]!), median(cpu[1]!)];
      console.log(`${job.name.padEnd(20)}${`${a.toFixed(0)} µs`.padStart(12)}${`${b.toFixed(0)} µs`.padStart(12)}${(b / a).toFixed(2).padStart(8)}`
        + `${`${ca.toFixed(0)} µs`.padStart(14)}${`${cb.toFixed(0)} µs`.padStart(12)}${(cb / ca).toFixed(2).padStart(8)}`);
    }
  } finally {
    for (const [, c] of clusters) await c.cleanup();
  }
}

await main();
