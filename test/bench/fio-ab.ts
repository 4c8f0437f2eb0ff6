/**
 * Before/after of a change to the sheepfs volume path, in one run: the fio jobs
 * of vs-original.ts on a sheepfs volume of this tree and of a baseline tree
 * (another checkout, built), each over its own 3 local sheep (-n, copies 3),
 * alternating, medians of the rounds. Next to MB/s or IOPS it prints the CPU
 * the sheep and sheepfs spent per GiB or per 1000 requests (all their threads,
 * from /proc/PID/task/TID/schedstat), which a loaded machine disturbs far less
 * than the throughput.
 *
 * Usage: npx tsc -p . && node build/test/bench/fio-ab.js BASELINE_DIR
 *          [--size 512M] [--runtime 6] [--rounds 3] [--jobs 'seq read 1M,seq write 1M']
 *   BASELINE_DIR: e.g. `git worktree add DIR COMMIT`, node_modules copied, `npx tsc -p .` there
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestCluster } from '../lib/cluster.js';
import { FIO_JOBS, runFio } from '../lib/fio.js';
import { mountSheepfs, type Mount } from '../fuse/lib.js';
import { cpuNs } from './cpu.js';
import { median } from './one-in-flight.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const BASE = process.argv[2];
if (!BASE || BASE.startsWith('--')) throw new Error('usage: fio-ab.js BASELINE_DIR [--size 512M] [--runtime 6] [--rounds 3] [--jobs NAMES]');
const SIZE = arg('--size', '512M');
const RUNTIME_S = Number(arg('--runtime', '6'));
const ROUNDS = Number(arg('--rounds', '3'));
const JOBS = arg('--jobs', FIO_JOBS.map((j) => j.name).join(',')).split(',');

interface Side { name: string; cluster: Pick<TestCluster, 'pids' | 'dog' | 'port' | 'cleanup'>; mount?: Mount; file: string }

async function side(name: string, tree: string, mnt: string): Promise<Side> {
  const lib = (await import(join(tree, 'build/test/lib/cluster.js'))) as { TestCluster: typeof TestCluster };
  const fuse = (await import(join(tree, 'build/test/fuse/lib.js'))) as { mountSheepfs: typeof mountSheepfs };
  const cluster = await lib.TestCluster.start({ nodes: 3, copies: 3 });
  const s: Side = { name, cluster, file: join(mnt, 'vdi/fio.img/volume') };
  const r = await cluster.dog(['vdi', 'create', 'fio.img', '1G']);
  if (r.code !== 0) throw new Error(`${name}: ${r.stderr}`);
  s.mount = await fuse.mountSheepfs(mnt, cluster.port(0));
  return s;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'fio-ab-'));
  const sides: Side[] = [];
  try {
    sides.push(await side('this tree', resolve('.'), join(root, 'a')));
    sides.push(await side('baseline', resolve(BASE), join(root, 'b')));
    const o = { size: SIZE, runtimeS: RUNTIME_S, iodepth: 16 };
    // lay the whole file out first, so reads read data
    for (const s of sides) await runFio([`--filename=${s.file}`, '--direct=1', '--ioengine=libaio'], FIO_JOBS[0]!, o);
    console.log(`fio on a sheepfs volume (direct, libaio, qd16, ${SIZE}, ${RUNTIME_S} s), median of ${ROUNDS} alternating rounds; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    console.log(`${'job'.padEnd(16)}${'this tree'.padStart(14)}${'baseline'.padStart(14)}${'ratio'.padStart(8)}${'CPU: this tree'.padStart(18)}${'baseline'.padStart(12)}${'ratio'.padStart(8)}`);
    for (const job of FIO_JOBS.filter((j) => JOBS.includes(j.name))) {
      const v: number[][] = [[], []];
      const cpu: number[][] = [[], []];
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < 2; i++) {
          const s = sides[i]!;
          const pids = [...s.cluster.pids.values(), s.mount!.pid];
          const before = cpuNs(pids);
          const x = await runFio([`--filename=${s.file}`, '--direct=1', '--ioengine=libaio'], job, o);
          const used = (cpuNs(pids) - before) / 1e9;
          // per GiB moved, or per 1000 requests
          const units = job.metric === 'MB/s' ? (x * 1e6 * RUNTIME_S) / 2 ** 30 : (x * RUNTIME_S) / 1000;
          v[i]!.push(x);
          cpu[i]!.push(used / units);
        }
      }
      const [a, b] = [median(v[0]!), median(v[1]!)];
      const [ca, cb] = [median(cpu[0]!), median(cpu[1]!)];
      const unit = job.metric === 'MB/s' ? 's/GiB' : 's/1k';
      console.log(`${job.name.padEnd(16)}${`${a.toFixed(0)} ${job.metric}`.padStart(14)}${`${b.toFixed(0)} ${job.metric}`.padStart(14)}${(a / b).toFixed(2).padStart(8)}`
        + `${`${ca.toFixed(3)} ${unit}`.padStart(18)}${`${cb.toFixed(3)} ${unit}`.padStart(12)}${(cb / ca).toFixed(2).padStart(8)}`);
    }
  } finally {
    for (const s of sides) {
      await s.mount?.stop().catch(() => {});
      await s.mount?.cleanup();
      await s.cluster.cleanup();
    }
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
