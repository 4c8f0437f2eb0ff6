/**
 * Start-up of many sheep on one host with the local driver (as the original's
 * functional test 076 starts 46): N sheep started one after the other, each
 * daemonized as `_start_sheep` does; prints the time until all N are members
 * and the CPU the N idle members then use, for this tree and, given a second
 * built checkout, for that one in the same run (alternating, A then B).
 *
 * Run: npx tsc -p . && node build/test/bench/local-start.js [N] [BASELINE_DIR]
 * Every sheep started is killed by PID at the end, also on failure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, nodeCount, ROOT, run, waitFor } from '../lib/cluster.js';

const N = Number(process.argv[2] ?? 30);
const TREES = [ROOT, ...(process.argv[3] ? [process.argv[3]] : [])];
/** Bound of the whole formation of N sheep. */
const FORM_TIMEOUT_MS = 900_000;
/** Window over which idle CPU is measured, after the members settled. */
const IDLE_SETTLE_MS = 5_000;
const IDLE_WINDOW_MS = 10_000;
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

async function once(tree: string): Promise<{ formS: number; idleCores: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sheepdog-bench-local-'));
  const ports = await freePorts(N);
  const pids: number[] = [];
  try {
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const pidFile = join(dir, `${i}.pid`);
      const r = await run(join(tree, 'sheep/sheep'), [join(dir, String(i)), '-c', `local:${join(dir, 'shm')}`, '-p', String(ports[i]),
        '-z', String(i), '-n', '-b', '127.0.0.1', '-P', pidFile], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`sheep ${i}: ${r.stderr}`);
      pids.push(Number(readFileSync(pidFile, 'utf8')));
    }
    await waitFor(`${N} members`, async () => (await nodeCount(ports[0]!)) === N, FORM_TIMEOUT_MS, 500);
    const formS = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const before = pids.reduce((s, p) => s + cpuTicks(p), 0);
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const after = pids.reduce((s, p) => s + cpuTicks(p), 0);
    return { formS, idleCores: (after - before) / CLK_TCK / (IDLE_WINDOW_MS / 1000) };
  } finally {
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const tree of TREES) {
  const r = await once(tree);
  console.log(`${tree}: ${N} sheep members in ${r.formS.toFixed(1)} s; idle, all ${N} use ${(r.idleCores * 100).toFixed(0)}% of a core`);
}
