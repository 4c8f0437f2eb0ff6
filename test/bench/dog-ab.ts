/**
 * Before/after of a change to the bulk path, in one run: `dog vdi write` and
 * `dog vdi read` of a whole VDI on 3 local sheep (-n, copies 3) of this tree
 * and of a baseline tree (another checkout, built), each side with its own dog,
 * alternating, medians of the rounds. Next to MB/s it prints the CPU seconds per
 * GiB that the three sheep (all their threads, /proc/PID/task/TID/schedstat) and
 * dog (bash's `times`) spent, which a loaded machine disturbs far less than the
 * throughput.
 *
 * Usage: npx tsc -p . && node build/test/bench/dog-ab.js BASELINE_DIR [--mib 512] [--rounds 3]
 *   BASELINE_DIR: e.g. `git worktree add --detach DIR main`, node_modules copied, `npx tsc -p .` there
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, TestCluster } from '../lib/cluster.js';
import { cpuNs } from './cpu.js';
import { median } from './one-in-flight.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const BASE = process.argv[2];
if (!BASE || BASE.startsWith('--')) throw new Error('usage: dog-ab.js BASELINE_DIR [--mib 512] [--rounds 3]');
const MIB = Number(arg('--mib', '512'));
const ROUNDS = Number(arg('--rounds', '3'));
const MiB = 1024 * 1024;

interface Side { name: string; dog: string; cluster: Pick<TestCluster, 'pids' | 'dog' | 'port' | 'cleanup'> }

async function side(name: string, tree: string): Promise<Side> {
  const lib = (await import(join(tree, 'build/test/lib/cluster.js'))) as { TestCluster: typeof TestCluster };
  const cluster = await lib.TestCluster.start({ nodes: 3, copies: 3 });
  const r = await cluster.dog(['vdi', 'create', 'dog.img', `${MIB}M`]);
  if (r.code !== 0) throw new Error(`${name}: ${r.stderr}`);
  return { name, dog: join(tree, 'dog/dog'), cluster };
}

/** Seconds of CPU the children of a bash -c spent (the second line of `times`). */
function childCpu(timesOut: string): number {
  const line = timesOut.trim().split('\n').at(-1)!;
  return line.split(/\s+/).reduce((s, t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? s + Number(m[1]) * 60 + Number(m[2]) : s;
  }, 0);
}

interface Sample { mbs: number; sheepCpu: number; dogCpu: number }

async function timed(s: Side, shell: string): Promise<Sample> {
  const pids = [...s.cluster.pids.values()];
  const before = cpuNs(pids);
  const t0 = process.hrtime.bigint();
  const r = await run('bash', ['-c', `${shell}; times`], { timeoutMs: 600_000 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${s.name}: ${shell}: ${r.stderr}`);
  const gib = MIB / 1024;
  return { mbs: MIB / secs, sheepCpu: (cpuNs(pids) - before) / 1e9 / gib, dogCpu: childCpu(r.out) / gib };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'dog-ab-'));
  const sides: Side[] = [];
  try {
    const input = join(work, 'input.bin');
    const out = createWriteStream(input);
    for (let done = 0; done < MIB; done += 4) {
      if (!out.write(randomBytes(4 * MiB))) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r) => out.end(r));
    sides.push(await side('this tree', resolve('.')));
    sides.push(await side('baseline', resolve(BASE)));
    const cmds = {
      write: (s: Side) => `${s.dog} vdi write dog.img -a 127.0.0.1 -p ${s.cluster.port(0)} < ${input}`,
      read: (s: Side) => `${s.dog} vdi read dog.img -a 127.0.0.1 -p ${s.cluster.port(0)} > /dev/null`,
    };
    const samples: Record<string, Sample[][]> = { write: [[], []], read: [[], []] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const op of ['write', 'read'] as const) {
        for (let i = 0; i < 2; i++) samples[op]![i]!.push(await timed(sides[i]!, cmds[op](sides[i]!)));
      }
    }
    console.log(`dog vdi write/read of ${MIB} MiB, 3 local sheep (-n, copies 3), median of ${ROUNDS} alternating rounds; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    console.log(`${'op'.padEnd(8)}${'MB/s: this'.padStart(12)}${'baseline'.padStart(10)}${'ratio'.padStart(7)}`
      + `${'sheep CPU s/GiB: this'.padStart(23)}${'baseline'.padStart(10)}${'ratio'.padStart(7)}${'dog CPU s/GiB: this'.padStart(21)}${'baseline'.padStart(10)}${'ratio'.padStart(7)}`);
    for (const op of ['write', 'read'] as const) {
      const m = (i: number, k: keyof Sample) => median(samples[op]![i]!.map((x) => x[k]));
      console.log(`${op.padEnd(8)}${m(0, 'mbs').toFixed(0).padStart(12)}${m(1, 'mbs').toFixed(0).padStart(10)}${(m(0, 'mbs') / m(1, 'mbs')).toFixed(2).padStart(7)}`
        + `${m(0, 'sheepCpu').toFixed(2).padStart(23)}${m(1, 'sheepCpu').toFixed(2).padStart(10)}${(m(1, 'sheepCpu') / m(0, 'sheepCpu')).toFixed(2).padStart(7)}`
        + `${m(0, 'dogCpu').toFixed(2).padStart(21)}${m(1, 'dogCpu').toFixed(2).padStart(10)}${(m(1, 'dogCpu') / m(0, 'dogCpu')).toFixed(2).padStart(7)}`);
    }
    console.log('(CPU ratios are baseline / this tree: above 1, this tree spends less)');
    const want = (await run('sha256sum', [input], { timeoutMs: 600_000 })).out.split(' ')[0];
    for (const s of sides) {
      const got = (await run('bash', ['-c', `${cmds.read(s).replace('> /dev/null', '| sha256sum')}`], { timeoutMs: 600_000 })).out.split(' ')[0];
      console.log(`${s.name}: read-back sha256 ${got === want ? 'matches' : 'DIFFERS'}`);
      if (got !== want) process.exitCode = 1;
    }
  } finally {
    for (const s of sides) await s.cluster.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
