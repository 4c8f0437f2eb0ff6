/**
 * What the storage engine options change, each against the same cluster
 * without them, in one run: 3 local sheep, copies=3, writes synced (no -n, so
 * that the journal and direct I/O have something to change).
 *
 *   plain      the default store (O_DSYNC object files)
 *   -j         journal: every write appended to a ring first, objects written unsynced;
 *              once on the store's disk, once on tmpfs standing in for a separate fast device
 *   -D         O_DIRECT for aligned data-object I/O
 *   -w         object cache on the sheep the client talks to (cache-flagged writes),
 *              measured as the burst alone and as burst + `dog vdi cache flush`
 *
 * Workloads, by raw client requests to sheep 0: 4 KiB writes at random offsets
 * (queue depth 16), then 1 MiB sequential writes (queue depth 4) over the VDI.
 *
 * Run: npx tsc -p . && node build/test/bench/store-engine.js [random writes, default 2000] [VDI MiB, default 64] [rounds, default 2]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SheepConnection } from '../../shared/client.js';
import { vidToDataOid } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { TestCluster } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const randomOps = Number(process.argv[2] ?? 2000);
const vdiMiB = Number(process.argv[3] ?? 64);
const ROUNDS = Number(process.argv[4] ?? 2);

interface Result { name: string; iops: number; seqMBs: number; flushSecs?: number }

async function pump(conn: SheepConnection, n: number, depth: number, make: (i: number) => { hdr: SdHeader; data: Buffer }): Promise<number> {
  const t0 = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const { hdr, data } = make(next++);
      const r = await conn.request(hdr, data, 120_000);
      if (r.hdr.result !== SD_RES.SUCCESS) throw new Error(`write failed: result 0x${r.hdr.result.toString(16)}`);
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function writeReq(vid: number, off: number, data: Buffer, cache: boolean): { hdr: SdHeader; data: Buffer } {
  const hdr = SdHeader.request(SD_OP.WRITE_OBJ, SD_FLAG.CMD_WRITE | (cache ? SD_FLAG.CMD_CACHE : 0), data.length);
  hdr.objOid = vidToDataOid(vid, Math.floor(off / OBJ));
  hdr.objOffset = off % OBJ;
  return { hdr, data };
}

async function measure(name: string, args: (i: number, root: string) => string[], cache: boolean): Promise<Result> {
  const extra = mkdtempSync(join(tmpdir(), 'store-bench-'));
  const cluster = await TestCluster.start({ nodes: 3, copies: 3, nosync: false, sheepArgs: (i) => args(i, extra) });
  try {
    const size = vdiMiB * MiB;
    let r = await cluster.dog(['vdi', 'create', '-P', 'bench', String(size)]);
    if (r.code !== 0) throw new Error(r.stderr);
    r = await cluster.dog(['vdi', 'list', '-r', 'bench']);
    const vid = parseInt(r.out.trim().split(' ')[7]!, 16);
    const conn = await SheepConnection.connect({ host: '127.0.0.1', port: cluster.port(0) });
    try {
      const small = randomBytes(4096);
      const rnd = await pump(conn, randomOps, 16, () => writeReq(vid, Math.floor(Math.random() * (size / 4096)) * 4096, small, cache));
      const big = randomBytes(MiB);
      const seq = await pump(conn, size / MiB, 4, (i) => writeReq(vid, i * MiB, big, cache));
      let flushSecs: number | undefined;
      if (cache) {
        const t0 = process.hrtime.bigint();
        const f = await cluster.dog(['vdi', 'cache', 'flush', 'bench'], { timeoutMs: 600_000 });
        if (f.code !== 0) throw new Error(f.stderr);
        flushSecs = Number(process.hrtime.bigint() - t0) / 1e9;
      }
      return { name, iops: randomOps / rnd, seqMBs: vdiMiB / seq, flushSecs };
    } finally {
      conn.close();
    }
  } finally {
    await cluster.cleanup();
    rmSync(extra, { recursive: true, force: true });
  }
}

/** Keep the better figures of two runs of the same setup. */
function best(a: Result | undefined, b: Result): Result {
  if (!a) return b;
  return {
    name: a.name, iops: Math.max(a.iops, b.iops), seqMBs: Math.max(a.seqMBs, b.seqMBs),
    flushSecs: a.flushSecs === undefined ? undefined : Math.min(a.flushSecs, b.flushSecs!),
  };
}

async function main(): Promise<void> {
  // the journal's intended use: a separate fast device (here RAM: a stand-in, not durable)
  const shm = mkdtempSync(join('/dev/shm', 'store-bench-'));
  const setups: [string, (i: number, root: string) => string[], boolean][] = [
    ['plain (baseline)', () => [], false],
    ['-j size=256M', () => ['-j', 'size=256M'], false],
    ['-j size=256M,dir=<tmpfs>', (i, root) => ['-j', `size=256M,dir=${join(shm, root.replace(/\W/g, '_'), String(i))}`], false],
    ['-D', () => ['-D'], false],
    ['-w size=256M on sheep 0', (i, root) => (i === 0 ? ['-w', `size=256M,dir=${join(root, 'cache')}`] : []), true],
  ];
  const results: Result[] = [];
  try {
    // rounds interleave the setups and keep the best of each: other load on the machine hits all alike
    for (let round = 0; round < ROUNDS; round++) {
      for (const [k, [name, args, cache]] of setups.entries()) results[k] = best(results[k], await measure(name, args, cache));
    }
  } finally {
    rmSync(shm, { recursive: true, force: true });
  }
  const base = results[0]!;
  console.log(`store engine, 3 local sheep, copies=3, synced writes, best of ${ROUNDS} rounds; ${randomOps} random 4 KiB writes (QD16), ${vdiMiB} MiB sequential 1 MiB writes (QD4)`);
  for (const r of results) {
    let line = `  ${r.name.padEnd(28)} random ${r.iops.toFixed(0).padStart(6)} IOPS (x${(r.iops / base.iops).toFixed(2)})`
      + `   sequential ${r.seqMBs.toFixed(1).padStart(6)} MB/s (x${(r.seqMBs / base.seqMBs).toFixed(2)})`;
    if (r.flushSecs !== undefined) {
      const total = randomOps / r.iops + vdiMiB / r.seqMBs + r.flushSecs;
      const baseTotal = randomOps / base.iops + vdiMiB / base.seqMBs;
      line += `   + flush ${r.flushSecs.toFixed(2)} s: both bursts and the flush take x${(baseTotal / total).toFixed(2)} the baseline's speed`;
    }
    console.log(line);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
