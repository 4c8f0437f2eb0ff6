/**
 * Runs every test file in its own process (uvu inside), each with a time bound,
 * then prints `N skipped` when any were and a last line `N passed, N failed`,
 * and exits non-zero on any failure. A file that crashes or times out counts as
 * a failure.
 *
 * Usage: node build/test/run.js [substring ...]   (only files whose path matches)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
/** Per-folder time bound of one test file. */
const TIMEOUT_MS: Record<string, number> = {
  unit: 60_000,
  // the original's functional tests: one run.sh over the whole list (about 10 min here)
  functional: 1_500_000,
  cluster: 240_000,
  fault: 300_000,
  fuse: 300_000,
};

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'bench' && name !== 'lib') out.push(...findTests(p));
    } else if (name.endsWith('.test.js')) {
      out.push(p);
    }
  }
  return out;
}

interface FileResult { passed: number; failed: number; skipped: number; note: string }

function parseSummary(text: string): { total: number; passed: number; skipped: number } | null {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  const total = [...plain.matchAll(/Total:\s+(\d+)/g)].pop();
  const passed = [...plain.matchAll(/Passed:\s+(\d+)/g)].pop();
  const skipped = [...plain.matchAll(/Skipped:\s+(\d+)/g)].pop();
  if (!total || !passed) return null;
  return { total: Number(total[1]), passed: Number(passed[1]), skipped: Number(skipped?.[1] ?? 0) };
}

/** Kill by PID whatever a test file recorded as started and left running. */
function killLeftovers(pidDir: string): string[] {
  const killed: string[] = [];
  if (!existsSync(pidDir)) return killed;
  for (const name of readdirSync(pidDir)) {
    const pid = Number(readFileSync(join(pidDir, name), 'utf8'));
    rmSync(join(pidDir, name), { force: true });
    if (!pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(`${name}(${pid})`);
    } catch { /* already gone */ }
  }
  return killed;
}

function runFile(file: string, timeoutMs: number, pidDir: string): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', SHEEPDOG_TEST_PID_DIR: pidDir },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { out += d; process.stderr.write(d); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const leftovers = killLeftovers(pidDir);
      const s = parseSummary(out);
      const result: FileResult = s
        ? { passed: s.passed, failed: s.total - s.passed, skipped: s.skipped, note: '' }
        : { passed: 0, failed: 0, skipped: 0, note: '' };
      if (timedOut) {
        result.failed += 1;
        result.note = `timed out after ${timeoutMs / 1000} s`;
      } else if (code !== 0 && result.failed === 0) {
        result.failed += 1;
        result.note = `exited with code ${code}`;
      }
      if (leftovers.length > 0) {
        result.failed += 1;
        result.note += ` left processes running (killed: ${leftovers.join(', ')})`;
      }
      resolve(result);
    });
  });
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  // matched against the path under build/test, not the checkout's own path (which may hold the substring)
  const files = findTests(here).filter((f) => filters.length === 0 || filters.some((s) => relative(here, f).includes(s)));
  const pidDir = mkdtempSync(join(tmpdir(), 'sheepdog-test-pids-'));
  let passed = 0, failed = 0, skipped = 0;
  const failures: string[] = [];
  const started = Date.now();
  for (const file of files) {
    const rel = relative(here, file);
    const folder = rel.split('/')[0]!;
    const t0 = Date.now();
    console.log(`\n=== ${rel}`);
    const r = await runFile(file, TIMEOUT_MS[folder] ?? 120_000, pidDir);
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`--- ${rel}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''} (${secs} s)${r.note ? ` ${r.note}` : ''}`);
    if (r.failed > 0) failures.push(`${rel}${r.note ? ` (${r.note.trim()})` : ''}`);
  }
  rmSync(pidDir, { recursive: true, force: true });
  console.log(`\n${files.length} test files in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (failures.length > 0) console.log(`failed files:\n  ${failures.join('\n  ')}`);
  // skipped tests (switched off on purpose, e.g. SHEEPDOG_TEST_KNOWN_FAILING) get their own
  // line: the last line is exactly `N passed, N failed`, which CI reads
  if (skipped > 0) console.log(`${skipped} skipped`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

await main();
