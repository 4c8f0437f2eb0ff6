/**
 * Erasure coding throughput: encode and decode MB/s of the code itself (4 MiB
 * objects, several geometries), then `dog vdi write` and `dog vdi read` of a
 * 4:2 VDI next to a 3-copy VDI on the same 6 local sheep (-n) in the same run.
 *
 * Run: npm run build && node build/test/bench/ec.js [size in MiB, default 256]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ecCode, encodeStripes, joinStripes } from '../../shared/ec/code.js';
import { DOG, run, TestCluster } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const sizeMiB = Number(process.argv[2] ?? 256);
/** How long each codec measurement runs. */
const CODEC_RUN_MS = 1500;

function rate(bytesPerRun: number, fn: () => void): number {
  fn(); // warm-up (tables, JIT)
  const t0 = performance.now();
  let runs = 0;
  while (performance.now() - t0 < CODEC_RUN_MS) {
    fn();
    runs++;
  }
  return (bytesPerRun * runs) / MiB / ((performance.now() - t0) / 1000);
}

function codecBench(): void {
  const obj = randomBytes(OBJ);
  console.log('codec, 4 MiB objects (MB/s of object data):');
  for (const [d, p] of [[2, 1], [4, 2], [8, 3], [16, 4]] as const) {
    const code = ecCode(d, p);
    const enc = rate(OBJ, () => encodeStripes(obj, code));
    const strips = encodeStripes(obj, code);
    // the worst case for a read: p data strips lost, rebuilt from the parity
    const have = strips.map((s, i) => (i < p ? undefined : s));
    const lost = [...Array(p).keys()];
    const dec = rate(OBJ, () => {
      const got = code.reconstruct(have, lost);
      joinStripes([...got, ...strips.slice(p, d)], d);
    });
    console.log(`  ${`${d}:${p}`.padEnd(5)} encode ${enc.toFixed(0).padStart(5)}   decode (${p} data strips lost) ${dec.toFixed(0).padStart(5)}`);
  }
}

async function timed(what: string, cmd: string, env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await run('bash', ['-c', cmd], { env: { ...env, PATH: `${dirname(DOG)}:${process.env.PATH}` }, timeoutMs: 900_000 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
  return secs;
}

async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let done = 0; done < bytes; done += OBJ) {
    const chunk = randomBytes(Math.min(OBJ, bytes - done));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(r));
  return hash.digest('hex');
}

async function dogBench(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sheepdog-bench-ec-'));
  const cluster = await TestCluster.start({ nodes: 6, copies: 3 });
  try {
    const bytes = sizeMiB * MiB;
    const input = join(work, 'input.bin');
    const digest = await writeRandomFile(input, bytes);
    const env = { SHEEPDOG_DOG_PORT: String(cluster.port(0)) };
    const mbs = (s: number) => (bytes / MiB / s).toFixed(0).padStart(4);
    console.log(`\ndog vdi write/read of ${sizeMiB} MiB, 6 local sheep (-n), same run:`);
    for (const [name, redundancy] of [['ec42.img', '4:2'], ['rep3.img', '3']] as const) {
      const c = await cluster.dog(['vdi', 'create', '-c', redundancy, name, `${sizeMiB}M`]);
      if (c.code !== 0) throw new Error(c.stderr);
      const write = await timed(`write ${name}`, `dog vdi write ${name} < ${input}`, env);
      const read = await timed(`read ${name}`, `dog vdi read ${name} > /dev/null`, env);
      const check = await run('bash', ['-c', `dog vdi read ${name} | sha256sum`], {
        env: { ...env, PATH: `${dirname(DOG)}:${process.env.PATH}` }, timeoutMs: 900_000,
      });
      const same = check.out.startsWith(digest);
      console.log(`  -c ${redundancy.padEnd(4)} write ${mbs(write)} MB/s   read ${mbs(read)} MB/s   read-back sha256 ${same ? 'matches' : 'DIFFERS'}`);
    }
  } finally {
    await cluster.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

codecBench();
await dogBench();
