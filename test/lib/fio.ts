/** The fio jobs the benchmarks run, and one run of a job with fio's JSON output read. */
import { run } from './cluster.js';

export interface FioJob { name: string; rw: string; bs: string; metric: 'MB/s' | 'IOPS' }

/** Sequential 1 MiB write then read, 4 KiB random write then read. */
export const FIO_JOBS: FioJob[] = [
  { name: 'seq write 1M', rw: 'write', bs: '1M', metric: 'MB/s' },
  { name: 'seq read 1M', rw: 'read', bs: '1M', metric: 'MB/s' },
  { name: 'rand write 4k', rw: 'randwrite', bs: '4k', metric: 'IOPS' },
  { name: 'rand read 4k', rw: 'randread', bs: '4k', metric: 'IOPS' },
];

/**
 * Run `job` for `runtimeS` seconds on `target` (fio arguments naming the file
 * or engine); MB/s or IOPS as the job measures.
 */
export async function runFio(target: string[], job: FioJob, o: { size: string; runtimeS: number; iodepth: number }): Promise<number> {
  const args = [
    `--name=${job.rw}`, ...target, `--rw=${job.rw}`, `--bs=${job.bs}`, `--size=${o.size}`,
    `--iodepth=${o.iodepth}`, '--numjobs=1', '--group_reporting',
    `--runtime=${o.runtimeS}`, '--time_based', '--randrepeat=0', '--output-format=json',
  ];
  const r = await run('fio', args, { timeoutMs: (o.runtimeS + 120) * 1000 });
  if (r.code !== 0) throw new Error(`fio ${job.name} on ${target.join(' ')}: ${r.stderr}`);
  const j = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { jobs: { read: { bw_bytes: number; iops: number }; write: { bw_bytes: number; iops: number } }[] };
  const side = job.rw.includes('write') ? j.jobs[0]!.write : j.jobs[0]!.read;
  return job.metric === 'MB/s' ? side.bw_bytes / 1e6 : side.iops;
}

/** `12.3 MB/s` or `456 IOPS`. */
export const fioFigure = (job: FioJob, x: number): string => `${x.toFixed(job.metric === 'MB/s' ? 1 : 0)} ${job.metric}`;
