/**
 * Progress of long dog work: drawn on a terminal (a pty from util-linux's
 * `script`), never into pipes or files. vdi read/write, backup and restore
 * draw the rate line on stderr; vdi check keeps 1.0's bar on stdout when stdout
 * is the terminal and draws the rate line on stderr when only stderr is.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DOG, TestCluster, run, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
let c: TestCluster;
let image: string;

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

/** A shell command run with a pty as its terminal; what the terminal showed. */
async function onTerminal(command: string): Promise<string> {
  const r = await run('script', ['-qec', command, '/dev/null'], {
    env: { SHEEPDOG_DOG_PORT: String(c.port(0)), SHEEPDOG_DOG_ADDR: '127.0.0.1', COLUMNS: '100' },
    timeoutMs: 120_000,
  });
  assert.is(r.code, 0, `${command}: ${r.out}`);
  return r.out;
}

/** The rate line: percent, bar, bytes, rate, ETA. */
const RATE_LINE = /\r\S* *100\.0 % \[=+\] 64 MB \/ 64 MB {2}(\d+(\.\d)? [MG]B|-( MB)?)\/s {2}ETA \d+:\d\d/;

test.before(async () => {
  c = await TestCluster.start({ nodes: 1, copies: 1 });
  await dog(['vdi', 'create', 'v', String(SIZE)]);
  image = join(c.root, 'image');
  writeFileSync(image, Buffer.alloc(SIZE, 7));
});

test.after(async () => {
  await c?.cleanup();
});

test('vdi write and read show bytes, rate and ETA on a terminal', async () => {
  const w = await onTerminal(`${DOG} vdi write v < ${image}`);
  assert.match(w, /write /);
  assert.match(w, RATE_LINE);
  const r = await onTerminal(`${DOG} vdi read v > /dev/null`);
  assert.match(r, /read /);
  assert.match(r, RATE_LINE);
  // a small write is quick: nothing drawn
  const small = await onTerminal(`head -c 4096 ${image} | ${DOG} vdi write v 0 4096`);
  assert.is(small, '');
});

test('never in pipes', async () => {
  const w = await dog(['vdi', 'write', 'v'], Buffer.alloc(SIZE, 3));
  assert.is(w.stderr, '');
  assert.is(w.out, '');
  const r = await dog(['vdi', 'read', 'v']);
  assert.is(r.stderr, '');
  assert.is(r.stdout.length, SIZE);
  const check = await dog(['vdi', 'check', 'v']);
  assert.is(check.out, 'finish check&repair v\n');
  assert.is(check.stderr, '');
});

test("vdi check: 1.0's bar on a terminal stdout, the rate line when only stderr is one", async () => {
  const both = await onTerminal(`${DOG} vdi check v`);
  assert.match(both, /100\.0 % \[=+\] 64 MB \/ 64 MB/);
  assert.not.match(both, /ETA/);
  assert.match(both, /finish check&repair v/);
  const errOnly = await onTerminal(`${DOG} vdi check v > /dev/null`);
  assert.match(errOnly, /\rv +100\.0 % \[=+\] 64 MB \/ 64 MB {2}.*ETA/);
});

test('backup and restore', async () => {
  await dog(['vdi', 'snapshot', '-s', 'a', 'v']);
  await dog(['vdi', 'write', 'v'], Buffer.alloc(SIZE, 9));
  await dog(['vdi', 'snapshot', '-s', 'b', 'v']);
  const file = join(c.root, 'backup');
  const b = await onTerminal(`${DOG} vdi backup -F a -s b v > ${file}`);
  assert.match(b, /\rbackup +100\.0 % \[=+\] 64 MB \/ 64 MB {2}.*ETA/);
  const piped = await dog(['vdi', 'backup', '-F', 'a', '-s', 'b', 'v']);
  assert.is(piped.stderr, '');
  const rs = await onTerminal(`${DOG} vdi restore -s a v < ${file}`);
  assert.match(rs, /\rrestore +100\.0 % \[=+\] 64 MB \/ 64 MB {2}.*ETA/);
  const restored = await dog(['vdi', 'read', '-s', 'a', 'v', '0', '4096']);
  assert.equal(restored.stdout, Buffer.alloc(4096, 3));
});

test.run();
