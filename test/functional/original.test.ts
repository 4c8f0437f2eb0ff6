/**
 * The original Sheepdog's own functional tests (../shared/functional: shell
 * scripts from sheepdog/sheepdog tests/functional that drive sheep, dog and
 * sheepfs and compare the output with the original's), run by their run.sh
 * against this project. The tests listed in original-tests.txt must pass; a
 * failure prints the diff of what we printed against what the original printed.
 * Skipped (with a message) only when ../shared/functional is absent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const suite = join(root, '..', 'shared', 'functional');
const runSh = join(suite, 'run.sh');
const listed = readFileSync(join(root, 'test', 'functional', 'original-tests.txt'), 'utf8')
  .split('\n').flatMap((l) => l.replace(/#.*/, '').trim().split(/\s+/)).filter((t) => t !== '');
/** Time bound of one functional test: twice run.sh's default, for a busy machine. */
const PER_TEST_S = 480;
/** Most lines of one test's diff printed on failure. */
const DIFF_LINES_MAX = 200;

const missing = existsSync(runSh) ? '' : `${suite} is absent`;
if (missing) console.log(`skip: ${missing}`);

interface Outcome { results: Map<string, string>; work: string; log: string }
let outcome: Outcome | undefined;

function runSuite(tests: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(runSh, ['-C', root, '-t', String(PER_TEST_S), ...tests], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d; process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { log += d; process.stderr.write(d); });
    child.on('error', reject);
    child.on('close', () => {
      const results = new Map<string, string>();
      for (const m of log.matchAll(/^(\d{3}) (pass|FAIL|notrun)\b/gm)) results.set(m[1]!, m[2]!);
      const work = /^work folder: (\S+)/m.exec(log)?.[1] ?? '';
      resolve({ results, work, log });
    });
  });
}

function diffOf(work: string, t: string): string {
  const bad = join(work, 'ft', `${t}.out.bad`);
  if (!existsSync(bad)) {
    const logFile = join(work, `${t}.log`);
    return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n') : '(no output kept)';
  }
  const d = spawnSync('diff', ['-u', join(work, 'ft', `${t}.out`), bad], { encoding: 'utf8' });
  const lines = (d.stdout || d.stderr || '').split('\n');
  return lines.slice(0, DIFF_LINES_MAX).join('\n') + (lines.length > DIFF_LINES_MAX ? '\n...' : '');
}

test.before(async () => {
  if (missing) return;
  outcome = await runSuite(listed);
});

/**
 * The sheep of the last test run.sh ran are still up (the harness stops a test's
 * sheep when the next test starts): stop every process whose command line names
 * the work folder.
 */
async function stopLeftovers(work: string): Promise<void> {
  const mine = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(`${work}/`);
    } catch {
      return false;
    }
  }).map(Number);
  for (const [signal, pauseMs] of [['SIGTERM', 3000], ['SIGKILL', 500]] as const) {
    for (const pid of mine()) {
      try { process.kill(pid, signal); } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  // and the loop devices it mounted (the harness also releases them only at the next test)
  const mounts = spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of mounts.split('\n').filter((t) => t.startsWith(`${work}/`)).reverse()) spawnSync('umount', [m]);
  const loops = spawnSync('losetup', ['-ln', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of loops.split('\n')) {
    const [dev, file] = line.trim().split(/\s+/);
    if (dev && file?.startsWith(`${work}/`)) spawnSync('losetup', ['-d', dev]);
  }
}

test.after(async () => {
  if (outcome?.work) await stopLeftovers(outcome.work.replace(/\/+$/, ''));
  // a clean run leaves nothing behind; a failing one keeps its outputs and sheep logs
  if (outcome?.work && [...outcome.results.values()].every((r) => r === 'pass') && outcome.results.size === listed.length) {
    rmSync(outcome.work, { recursive: true, force: true });
  }
});

for (const t of listed) {
  const run = missing ? test.skip : test;
  run(`functional ${t}`, () => {
    const r = outcome!.results.get(t);
    if (r === 'pass') return;
    const why = r === undefined ? `did not run:\n${outcome!.log.split('\n').slice(-5).join('\n')}` : r;
    assert.unreachable(`functional test ${t}: ${why} (outputs in ${outcome!.work})\n${diffOf(outcome!.work, t)}`);
  });
}

test.run();
