/**
 * Throughput of `dog vdi write` and `dog vdi read` of 1 GiB with copies=3 on 3
 * local sheep (started with -n, as the reference cluster was), next to a
 * baseline measured in the same run on the same disk: writing the data three
 * times with cp (what 3 copies cost at least) and reading it once with cat.
 *
 * Run: npm run build && node build/test/bench/dog-io.js [size in MiB, default 1024]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DOG, run, TestCluster } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);

async function timed(what: string, cmd: string, env: NodeJS.ProcessEnv = {}): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await run('bash', ['-c', cmd], { env: { ...env, PATH: `${dirname(DOG)}:${process.env.PATH}` }, timeoutMs: 600_000 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
  return secs;
}

async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let done = 0; done < bytes; done += 4 * MiB) {
    const chunk = randomBytes(Math.min(4 * MiB, bytes - done));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(r));
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sheepdog-bench-'));
  const cluster = await TestCluster.start({ nodes: 3, copies: 3 });
  try {
    const bytes = sizeMiB * MiB;
    const input = join(work, 'input.bin');
    const digest = await writeRandomFile(input, bytes);
    const env = { SHEEPDOG_DOG_PORT: String(cluster.port(0)) };
    const c = await cluster.dog(['vdi', 'create', 'bench.img', `${sizeMiB}M`]);
    if (c.code !== 0) throw new Error(c.stderr);

    const baseWrite = await timed('cp x3', `for i in 1 2 3; do cp ${input} ${work}/copy$i; done; sync -f ${work}`);
    const baseRead = await timed('cat', `cat ${input} > /dev/null`);
    const write = await timed('dog vdi write', `dog vdi write bench.img < ${input}`, env);
    const read = await timed('dog vdi read', 'dog vdi read bench.img > /dev/null', env);
    const check = await run('bash', ['-c', `dog vdi read bench.img | sha256sum`], { env: { ...env, PATH: `${dirname(DOG)}:${process.env.PATH}` }, timeoutMs: 600_000 });
    const same = check.out.startsWith(digest);

    const mbs = (s: number) => (bytes / MiB / s).toFixed(0);
    console.log(`dog vdi write/read of ${sizeMiB} MiB, copies=3, 3 local sheep (-n)`);
    console.log(`  dog vdi write: ${mbs(write)} MB/s   baseline cp x3: ${mbs(baseWrite)} MB/s   ratio ${(baseWrite / write).toFixed(2)}`);
    console.log(`  dog vdi read:  ${mbs(read)} MB/s   baseline cat:   ${mbs(baseRead)} MB/s   ratio ${(baseRead / read).toFixed(2)}`);
    console.log(`  read-back sha256 ${same ? 'matches' : 'DIFFERS'}`);
    if (!same) process.exitCode = 1;
  } finally {
    await cluster.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
