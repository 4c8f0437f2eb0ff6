/**
 * fio on a sheepfs volume vs a plain local file (on demand, not in CI).
 *
 * A 3-sheep cluster with copies=3 (sheep without -n: every write is on stable
 * storage on all three copies before it is acknowledged), sheepfs mounted as
 * users run it, and one VDI. The same four jobs run on its volume and on a
 * plain file on the same disk, in this run: sequential 1 MiB write then read,
 * 4 KiB random write then read, direct I/O, libaio, queue depth 16.
 *
 * Usage: npm run build && node build/test/bench/fio.js [--size 512M] [--runtime 10]
 *        (SHEEPFS_ARGS=-k mounts with the page cache)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, TestCluster } from '../lib/cluster.js';
import { mountSheepfs, type Mount } from '../fuse/lib.js';
import { fio, FIO_JOBS } from './fio-jobs.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SIZE = arg('--size', '512M');
const RUNTIME_S = Number(arg('--runtime', '10'));
const IODEPTH = 16;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sheepfs-fio-'));
  let cluster: TestCluster | undefined;
  let m: Mount | undefined;
  try {
    cluster = await TestCluster.start({ nodes: 3, copies: 3, nosync: false });
    const c = await cluster.dog(['vdi', 'create', 'bench.img', SIZE]);
    if (c.code !== 0) throw new Error(c.stderr);
    m = await mountSheepfs(join(work, 'mnt'), cluster.port(0), process.env.SHEEPFS_ARGS?.split(' ').filter(Boolean) ?? []);
    const volume = join(work, 'mnt/vdi/bench.img/volume');
    const plain = join(work, 'plain.img');
    const fill = await run('fio', ['--name=fill', `--filename=${plain}`, '--rw=write', '--bs=1M', `--size=${SIZE}`, '--direct=1'], { timeoutMs: 300_000 });
    if (fill.code !== 0) throw new Error(fill.stderr);
    console.log(`fio, direct I/O, libaio, iodepth ${IODEPTH}, ${SIZE} file, ${RUNTIME_S} s per job`);
    console.log(`sheepfs: copies=3 over 3 local sheep (sync writes); plain: a file on the same disk\n`);
    console.log(`${'job'.padEnd(16)}${'sheepfs'.padStart(12)}${'plain file'.padStart(14)}${'ratio'.padStart(9)}`);
    for (const job of FIO_JOBS) {
      const v = await fio(volume, job, { size: SIZE, runtimeS: RUNTIME_S, iodepth: IODEPTH });
      const p = await fio(plain, job, { size: SIZE, runtimeS: RUNTIME_S, iodepth: IODEPTH });
      const fmt = (x: number): string => `${x.toFixed(job.metric === 'MB/s' ? 1 : 0)} ${job.metric}`;
      console.log(`${job.name.padEnd(16)}${fmt(v).padStart(12)}${fmt(p).padStart(14)}${(v / p).toFixed(2).padStart(9)}`);
    }
  } finally {
    await m?.cleanup();
    await cluster?.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
