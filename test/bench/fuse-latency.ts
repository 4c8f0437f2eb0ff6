/**
 * FUSE backend latency and throughput, kernel vs fuse-native, in one run
 * (on demand, not in CI): one sheep, copies 1, one VDI, sheepfs mounted with
 * each backend in turn (alternating, medians of 3 rounds).
 *
 *  - 4k hole read qd1: 4 KiB direct reads of a never-written VDI, one in
 *    flight. sheepfs answers zeros without asking the sheep: what is measured
 *    is the FUSE round trip (kernel -> sheepfs -> kernel).
 *  - 4k read qd1 / 4k write qd1: the same on written data (one sheep request each).
 *  - 1M write qd8 / 1M read qd8: large direct I/O, several in flight.
 *
 * Usage: npm run build && node build/test/bench/fuse-latency.js [--runtime 5] [--rounds 3] [--only SUBSTRING]
 *        (SHEEPFS_BENCH_ENV='VAR=value ...' is added to each sheepfs's environment)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, TestCluster } from '../lib/cluster.js';
import { mountSheepfs } from '../fuse/lib.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const RUNTIME_S = Number(arg('--runtime', '5'));
const ROUNDS = Number(arg('--rounds', '3'));
const ONLY = arg('--only', '');
const EXTRA_ENV = Object.fromEntries((process.env.SHEEPFS_BENCH_ENV ?? '').split(' ').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
const BACKENDS = ['kernel', 'native'] as const;

interface Job { name: string; file: 'hole' | 'data'; rw: string; bs: string; depth: number; metric: 'µs' | 'MB/s' }
const ALL_JOBS: Job[] = [
  { name: '4k hole read qd1', file: 'hole', rw: 'randread', bs: '4k', depth: 1, metric: 'µs' },
  { name: '4k read qd1', file: 'data', rw: 'randread', bs: '4k', depth: 1, metric: 'µs' },
  { name: '4k write qd1', file: 'data', rw: 'randwrite', bs: '4k', depth: 1, metric: 'µs' },
  { name: '1M write qd8', file: 'data', rw: 'write', bs: '1M', depth: 8, metric: 'MB/s' },
  { name: '1M read qd8', file: 'data', rw: 'read', bs: '1M', depth: 8, metric: 'MB/s' },
];
const JOBS = ALL_JOBS.filter((j) => j.name.includes(ONLY));

async function fio(file: string, job: Job): Promise<number> {
  const r = await run('fio', [
    `--name=${job.name.replace(/ /g, '_')}`, `--filename=${file}`, `--rw=${job.rw}`, `--bs=${job.bs}`, '--size=256M',
    '--direct=1', '--ioengine=libaio', `--iodepth=${job.depth}`, `--runtime=${RUNTIME_S}`, '--time_based',
    '--randrepeat=0', '--output-format=json',
  ], { timeoutMs: (RUNTIME_S + 60) * 1000 });
  if (r.code !== 0) throw new Error(`fio ${job.name}: ${r.stderr}`);
  type Side = { bw_bytes: number; lat_ns: { mean: number } };
  const j = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { jobs: { read: Side; write: Side }[] };
  const side = job.rw.includes('write') ? j.jobs[0]!.write : j.jobs[0]!.read;
  return job.metric === 'µs' ? side.lat_ns.mean / 1000 : side.bw_bytes / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sheepfs-lat-'));
  let cluster: TestCluster | undefined;
  const results = new Map<string, number[]>();
  try {
    cluster = await TestCluster.start({ nodes: 1, copies: 1 });
    for (const v of ['hole.img', 'data.img']) {
      const c = await cluster.dog(['vdi', 'create', v, '256M']);
      if (c.code !== 0) throw new Error(c.stderr);
    }
    const fill = await cluster.dog(['vdi', 'write', 'data.img'], { input: Buffer.alloc(256 << 20, 7) });
    if (fill.code !== 0) throw new Error(`vdi write: ${fill.stderr}`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const backend of BACKENDS) {
        const m = await mountSheepfs(join(work, 'mnt'), cluster.port(0), [`--fuse=${backend}`], EXTRA_ENV);
        try {
          for (const job of JOBS) {
            const v = await fio(join(work, 'mnt/vdi', `${job.file}.img`, 'volume'), job);
            const key = `${job.name}|${backend}`;
            results.set(key, [...(results.get(key) ?? []), v]);
          }
        } finally {
          await m.stop().catch(() => m.cleanup());
        }
      }
    }
    console.log(`fio direct I/O, libaio, ${RUNTIME_S} s per job, medians of ${ROUNDS} alternating rounds; 1 sheep, copies 1`);
    console.log(`${'job'.padEnd(20)}${'kernel'.padStart(14)}${'fuse-native'.padStart(14)}${'kernel/native'.padStart(15)}`);
    for (const job of JOBS) {
      const k = median(results.get(`${job.name}|kernel`)!);
      const n = median(results.get(`${job.name}|native`)!);
      const fmt = (x: number): string => `${x.toFixed(job.metric === 'µs' ? 0 : 1)} ${job.metric}`;
      // for latency lower is better: the ratio is native/kernel so that > 1 means the kernel backend is better
      const ratio = job.metric === 'µs' ? n / k : k / n;
      console.log(`${job.name.padEnd(20)}${fmt(k).padStart(14)}${fmt(n).padStart(14)}${`${ratio.toFixed(2)}x`.padStart(15)}`);
    }
    console.log('(ratio > 1: the kernel backend is better; for latency it is native/kernel)');
  } finally {
    await cluster?.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
