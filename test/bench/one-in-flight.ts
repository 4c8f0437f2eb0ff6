/**
 * One request in flight straight to a gateway sheep (48-byte header and
 * payload over TCP with shared/client.ts, no FUSE): the latency loop of
 * vs-original.ts and latency-ab.ts.
 */
import { randomBytes } from 'node:crypto';
import { SheepConnection } from '../../shared/client.js';
import { vidToDataOid } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;

export interface LatJob { name: string; op: number; size: number }
export const LAT_JOBS: LatJob[] = [
  { name: 'READ_OBJ 4 KiB', op: SD_OP.READ_OBJ, size: 4096 },
  { name: 'WRITE_OBJ 4 KiB', op: SD_OP.WRITE_OBJ, size: 4096 },
  { name: 'READ_OBJ 128 KiB', op: SD_OP.READ_OBJ, size: 128 * 1024 },
  { name: 'WRITE_OBJ 128 KiB', op: SD_OP.WRITE_OBJ, size: 128 * 1024 },
];

/** Median µs of `requests` requests sent one at a time to the gateway at `port`. */
export async function latency(port: number, oid: bigint, job: LatJob, requests: number): Promise<number> {
  const c = await SheepConnection.connect({ host: '127.0.0.1', port });
  try {
    const write = job.op === SD_OP.WRITE_OBJ;
    const payload = write ? randomBytes(job.size) : undefined;
    const times: number[] = [];
    const warmup = Math.min(200, requests);
    for (let i = 0; i < warmup + requests; i++) {
      const h = SdHeader.request(job.op, write ? SD_FLAG.CMD_WRITE : 0, job.size);
      h.objOid = oid;
      // walk the object in steps of the request size so no one block stays hot
      h.objOffset = (i * job.size) % (4 * MiB);
      h.objCopies = 3;
      const t0 = process.hrtime.bigint();
      const r = await c.request(h, payload, 30_000);
      const t = Number(process.hrtime.bigint() - t0) / 1000;
      if (r.hdr.result !== SD_RES.SUCCESS) throw new Error(`${job.name} on ${port}: result ${r.hdr.result}`);
      if (i >= warmup) times.push(t);
    }
    return median(times);
  } finally {
    c.close();
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** A VDI written whole, and the oid of its first data object (for the latency loop). */
export async function latencyObject(side: { name: string; dog(args: readonly string[], input?: Buffer | string): Promise<RunResult> }): Promise<bigint> {
  const mk = await side.dog(['vdi', 'create', 'lat.img', '8M']);
  if (mk.code !== 0) throw new Error(`${side.name}: ${mk.stderr}`);
  const w = await side.dog(['vdi', 'write', 'lat.img'], randomBytes(8 * MiB));
  if (w.code !== 0) throw new Error(`${side.name}: ${w.stderr}`);
  const l = await side.dog(['vdi', 'list', '-r', 'lat.img']);
  // `= name snapid size used shared ctime vid copies tag block_shift`
  const vid = parseInt(l.out.trim().split(' ')[7]!, 16);
  if (!(vid > 0 && vid < 2 ** 24)) throw new Error(`${side.name}: no vid in ${l.out}`);
  return vidToDataOid(vid, 0);
}

