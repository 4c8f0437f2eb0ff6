/**
 * The original Sheepdog's own functional tests (../shared/functional: shell
 * scripts from sheepdog/sheepdog tests/functional that drive sheep, dog and
 * sheepfs and compare the output with the original's), run by their run.sh
 * against this project. The tests listed in original-tests.txt must pass; a
 * failure prints the diff of what we printed against what the original printed.
 * Skipped (with a message) only when ../shared/functional is absent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * Nominal size of the private /tmp the tests run on. tmpfs reserves nothing, so
 * this only sets the free space the sheep see: large and steady, changed only by
 * the tests' own writes.
 */
const TMPFS_SIZE = '1T';

/**
 * Runs in a private mount namespace (unshare -m) with the real /tmp as its
 * working directory: holds run.sh's lock on the real /tmp (so runs by hand stay
 * serialised with this one), mounts a fresh tmpfs over /tmp, runs run.sh ("$@"),
 * then stops what the last test left running, copies the outputs of the tests
 * that did not pass into the working directory (on the real /tmp, reached
 * through the cwd) and prints the tmpfs's peak use. The namespace, its tmpfs
 * and every loop mount in it end with this shell.
 */
const IN_NAMESPACE = String.raw`
set -u
exec 9>/tmp/sheepdog-functional.lock
flock -w 3600 9 || { echo "another functional run holds the lock"; exit 2; }
mount -t tmpfs -o "size=$TMPFS_SIZE,mode=1777" sheepdog-functional /tmp || exit 2
( peak=0; while :; do
    u=$(df -k --output=used /tmp | tail -1); [ "$u" -gt "$peak" ] && { peak=$u; echo $peak > /tmp/.peak-kb; }
    sleep 1
  done ) &
sampler=$!
"$@"; rc=$?
kill $sampler
work=$(ls -d /tmp/sheepdog-functional.*/ 2>/dev/null | head -1 | sed 's:/$::')
if [ -n "$work" ]; then
  ours() { for p in /proc/[0-9]*; do
      case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in *"$work/"*) basename $p;; esac
    done; }
  for sig in TERM KILL; do
    for p in $(ours); do kill -$sig $p 2>/dev/null; done
    for i in 1 2 3 4 5 6; do [ -z "$(ours)" ] && break; sleep 0.5; done
  done
  kept=""
  for log in "$work"/[0-9][0-9][0-9].log; do
    [ -f "$log" ] || continue
    t=$(basename $log .log)
    [ ! -f "$work/ft/$t.out.bad" ] && [ ! -f "$work/ft/$t.notrun" ] && grep -q '^Passed all' "$log" && continue
    kept="$kept $t.log"
    for f in ft/$t.out ft/$t.out.bad ft/$t.notrun; do [ -f "$work/$f" ] && kept="$kept $f"; done
    [ -d "$work/wd/$t" ] && kept="$kept $(cd "$work" && find wd/$t -name '*.log' | tr '\n' ' ')"
  done
  [ -n "$kept" ] && (cd "$work" && tar -cf - $kept) | tar -xf -
fi
echo "tmpfs peak use: $(( $(cat /tmp/.peak-kb 2>/dev/null || echo 0) / 1024 )) MB (outputs of tests that did not pass: $PWD)"
exit $rc
`;

function runSuite(tests: string[]): Promise<Outcome> {
  // the failed tests' outputs are copied here, on the real /tmp
  const kept = mkdtempSync('/tmp/sheepdog-functional-kept.');
  const args = ['-m', '--propagation', 'private', 'sh', '-c', IN_NAMESPACE, 'sh', runSh, '-C', root, '-t', String(PER_TEST_S), ...tests];
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', args, { cwd: kept, env: { ...process.env, TMPFS_SIZE }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d; process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { log += d; process.stderr.write(d); });
    child.on('error', reject);
    child.on('close', () => {
      const results = new Map<string, string>();
      for (const m of log.matchAll(/^(\d{3}) (pass|FAIL|notrun)\b/gm)) results.set(m[1]!, m[2]!);
      resolve({ results, work: kept, log });
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

test.after(() => {
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
