/**
 * `npm start` (build/sheep/local-cluster.js): a 3-sheep cluster with sheepfs
 * mounted at the path it prints, a demo VDI as a volume there, and Ctrl-C
 * (SIGINT) unmounting it and stopping everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePorts, pidAlive, ROOT, waitFor } from '../lib/cluster.js';
import { isMounted, sh } from './lib.js';

const dir = mkdtempSync(join(tmpdir(), 'sheepfs-start-'));
let child: ChildProcess | undefined;
let out = '';

/** Direct children of pid (the sheep and sheepfs it started). */
function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(name));
    } catch { /* gone */ }
  }
  return kids;
}

const record = (pid: number): void => {
  if (process.env.SHEEPDOG_TEST_PID_DIR) writeFileSync(join(process.env.SHEEPDOG_TEST_PID_DIR, `start-${pid}`), String(pid));
};

test.after(async () => {
  if (child?.pid && pidAlive(child.pid)) {
    const kids = childrenOf(child.pid);
    for (const pid of [child.pid, ...kids]) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  const mnt = join(dir, 'mnt');
  if (isMounted(mnt)) await sh(`fusermount -uz ${mnt}`);
  rmSync(dir, { recursive: true, force: true });
});

test('npm start mounts sheepfs with a demo volume at the path it prints; Ctrl-C unmounts and stops', async () => {
  const [port] = await freePorts(3);
  child = spawn(process.execPath, [join(ROOT, 'build/sheep/local-cluster.js'), '--dir', dir, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  record(child.pid!);
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  await waitFor('ready', () => out.includes('\nready.') || child!.exitCode !== null, 90_000).catch((e) => {
    throw new Error(`${(e as Error).message}; output so far:\n${out}`);
  });
  assert.is(child.exitCode, null, `npm start ended: ${out}`);
  for (const pid of childrenOf(child.pid!)) record(pid);
  const mnt = /sheepfs mounted at (\S+)/.exec(out)?.[1];
  assert.is(mnt, join(dir, 'mnt'), out);
  assert.ok(isMounted(mnt!));
  const volume = /demo volume: (\S+)/.exec(out)?.[1];
  assert.is(volume, join(mnt!, 'vdi/demo.img/volume'));
  assert.is(statSync(volume!).size, 256 << 20);
  const r = await sh(`echo hello | dd of=${volume} conv=notrunc status=none && head -c 6 ${volume}`);
  assert.is(r.out, 'hello\n');
  assert.match(readFileSync(join(mnt!, 'cluster/info'), 'utf8'), /^Cluster status: running/);

  const kids = childrenOf(child.pid!);
  process.kill(child.pid!, 'SIGINT');
  await waitFor('npm start to stop', () => child!.exitCode !== null, 60_000);
  assert.is(child.exitCode, 0, out);
  assert.not.ok(isMounted(mnt!), 'sheepfs unmounted');
  assert.match(out, /sheepfs unmounted from /);
  assert.ok(kids.every((p) => !pidAlive(p)), 'sheep and sheepfs are gone');
});

test.run();
