/**
 * The four fio jobs of the volume benchmarks (fio.ts, vs-original.ts):
 * sequential 1 MiB write then read, 4 KiB random write then read, direct I/O,
 * libaio, time based; one run of one job on one file, as MB/s or IOPS.
 */
import { run } from '../lib/cluster.js';

export interface FioJob { name: string; rw: string; bs: string; metric: 'MB/s' | 'IOPS' }

export const FIO_JOBS: FioJob[] = [
  { name: 'seq write 1M', rw: 'write', bs: '1M', metric: 'MB/s' },
  { name: 'seq read 1M', rw: 'read', bs: '1M', metric: 'MB/s' },
  { name: 'rand write 4k', rw: 'randwrite', bs: '4k', metric: 'IOPS' },
  { name: 'rand read 4k', rw: 'randread', bs: '4k', metric: 'IOPS' },
];

export interface FioSettings { size: string; runtimeS: number; iodepth: number }

export async function fio(file: string, job: FioJob, o: FioSettings): Promise<number> {
  const args = [
    `--name=${job.rw}`, `--filename=${file}`, `--rw=${job.rw}`, `--bs=${job.bs}`, `--size=${o.size}`,
    '--direct=1', '--ioengine=libaio', `--iodepth=${o.iodepth}`, '--numjobs=1', '--group_reporting',
    `--runtime=${o.runtimeS}`, '--time_based', '--randrepeat=0', '--output-format=json',
  ];
  const r = await run('fio', args, { timeoutMs: (o.runtimeS + 120) * 1000 });
  if (r.code !== 0) throw new Error(`fio ${job.name} on ${file}: ${r.stderr}`);
  const j = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { jobs: { read: { bw_bytes: number; iops: number }; write: { bw_bytes: number; iops: number } }[] };
  const side = job.rw.includes('write') ? j.jobs[0]!.write : j.jobs[0]!.read;
  return job.metric === 'MB/s' ? side.bw_bytes / 1e6 : side.iops;
}
