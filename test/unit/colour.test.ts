/**
 * shared/colour.ts: colour only where chalk sees a terminal (or FORCE_COLOR),
 * and never with NO_COLOR.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, run } from '../lib/cluster.js';

const script = `import(${JSON.stringify(join(ROOT, 'build/shared/colour.js'))})` +
  ".then((m) => { process.stdout.write(m.stdoutPaint().red('a')); process.stderr.write(m.stderrPaint().red('b')); })";

async function paint(env: NodeJS.ProcessEnv): Promise<[string, string]> {
  const r = await run(process.execPath, ['-e', script], { env: { NO_COLOR: '', FORCE_COLOR: undefined, ...env } });
  assert.is(r.code, 0, r.stderr);
  return [r.out, r.stderr];
}

test('pipes get plain text', async () => {
  assert.equal(await paint({}), ['a', 'b']);
});

test('FORCE_COLOR colours, NO_COLOR wins over it', async () => {
  assert.equal(await paint({ FORCE_COLOR: '1' }), ['\x1b[31ma\x1b[39m', '\x1b[31mb\x1b[39m']);
  assert.equal(await paint({ FORCE_COLOR: '1', NO_COLOR: '1' }), ['a', 'b']);
});

test.run();
