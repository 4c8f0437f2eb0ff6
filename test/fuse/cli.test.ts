/**
 * sheepfs's command line: --help tells the truth, and bad input (no mount
 * point, a mount point that is not a directory, a bad port, no sheep
 * listening) gets a clear message and exit 1 before anything is mounted.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../lib/cluster.js';
import { isMounted, SHEEPFS } from './lib.js';

const dir = mkdtempSync(join(tmpdir(), 'sheepfs-cli-'));
const mnt = join(dir, 'mnt');
mkdirSync(mnt);

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sheepfs = (args: string[]) => run(SHEEPFS, args, { timeoutMs: 20_000 });

test('--help prints the usage of the original and every option it documents', async () => {
  const r = await sheepfs(['--help']);
  assert.is(r.code, 0);
  assert.is(r.stderr, '');
  assert.ok(r.out.startsWith('Usage: sheepfs [OPTION]... MOUNTPOINT\nOptions:\n'), r.out);
  for (const o of ['-a, --address', '-d, --debug', '-f, --foreground', '-k, --pagecache', '--objectcache', '-p, --port', '-h, --help']) {
    assert.ok(r.out.includes(o), `usage names ${o}`);
  }
  assert.is((await sheepfs(['-h'])).out, r.out);
});

test('--help names the FUSE backends and the one a mount would use here (kernel as root)', async () => {
  const r = await sheepfs(['--help']);
  assert.match(r.out, /--fuse=BACKEND/);
  assert.match(r.out, /\nFUSE backend here: kernel /);
  const n = await run(SHEEPFS, ['--help'], { env: { SHEEPFS_FUSE: 'native' } });
  assert.match(n.out, /\nFUSE backend here: native /);
});

test('no mount point: a message and the hint, exit 1', async () => {
  const r = await sheepfs([]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /no MOUNTPOINT given/);
  assert.match(r.stderr, /Try 'sheepfs --help' for help\./);
});

test('unknown options and the short -o/-n the original refused: the hint, exit 1', async () => {
  for (const opt of ['-x', '-o', '-n', '--bogus']) {
    const r = await sheepfs([opt, mnt]);
    assert.is(r.code, 1, opt);
    assert.match(r.stderr, /Try 'sheepfs --help' for help\./, opt);
  }
});

test('an invalid port is named', async () => {
  for (const p of ['0', '65536', 'abc']) {
    const r = await sheepfs([mnt, '-p', p]);
    assert.is(r.code, 1);
    assert.is(r.stderr, `Invalid port number '${p}'\n`);
  }
});

test('a mount point that does not exist, or is a file, is refused', async () => {
  const missing = join(dir, 'nope');
  let r = await sheepfs([missing]);
  assert.is(r.code, 1);
  assert.is(r.stderr, `sheepfs: ${missing}: No such file or directory\n`);
  const file = join(dir, 'file');
  writeFileSync(file, 'x');
  r = await sheepfs([file]);
  assert.is(r.code, 1);
  assert.is(r.stderr, `sheepfs: ${file} is not a directory\n`);
});

test('no sheep listening: says where it tried, exit 1, nothing mounted (daemon and -f)', async () => {
  // port 1 (tcpmux): below the range tests pick ports from, so no concurrent test's sheep can take it
  const port = 1;
  for (const extra of [[], ['-f']]) {
    const t0 = Date.now();
    const r = await sheepfs([mnt, '-p', String(port), ...extra]);
    assert.is(r.code, 1);
    assert.is(r.stderr, `sheepfs: cannot connect to sheep at 127.0.0.1:${port}: Connection refused\n`);
    assert.ok(Date.now() - t0 < 10_000, 'fails fast');
    assert.not.ok(isMounted(mnt));
  }
});

test.run();
