/**
 * sheepfs when sheep die: killing the sheep it talks to during a dd, the run
 * completes through another sheep and the data verifies; with every sheep
 * down, reading a volume fails with EIO in under 30 s instead of hanging, and
 * works again once the cluster is back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { mountSheepfs, sh, type Mount } from './lib.js';

let cluster: TestCluster;
let m: Mount;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-failover-'));
const mnt = join(dir, 'mnt');
const vol = join(mnt, 'vdi', 'f.img', 'volume');
const MiB = 1 << 20;

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 3, copies: 3 });
  assert.is((await cluster.dog(['vdi', 'create', 'f.img', '128M'])).code, 0);
  m = await mountSheepfs(mnt, cluster.port(0));
});

test.after(async () => {
  await m?.cleanup();
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const sha = async (cmd: string): Promise<string> => {
  const r = await sh(`${cmd} | sha256sum`);
  assert.is(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.out.split(' ')[0]!;
};

test('kill -9 of the sheep sheepfs talks to during dd: dd completes and the data verifies', async () => {
  const src = join(dir, 'r.bin');
  writeFileSync(src, randomBytes(64 * MiB));
  const want = await sha(`cat ${src}`);
  const dd = spawn('dd', [`if=${src}`, `of=${vol}`, 'bs=1M', 'oflag=direct', 'conv=notrunc,fsync', 'status=progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let progress = '';
  dd.stderr!.on('data', (d: Buffer) => { progress += d; });
  const exited = new Promise<number>((res) => dd.on('close', (code) => res(code ?? 1)));
  // kill once the copy is under way (dog sees objects allocated)
  await waitFor('dd to be under way', async () => {
    const r = await cluster.dog(['vdi', 'list', '-r', 'f.img'], { port: cluster.port(1) });
    return Number(r.out.split(' ')[4]) >= 4 * MiB;
  }, 30_000, 50);
  await cluster.kill9(0);
  const code = await Promise.race([exited, new Promise<number>((res) => setTimeout(() => res(-1), 60_000))]);
  if (code === -1) dd.kill('SIGKILL');
  assert.is(code, 0, `dd: ${progress}`);
  const fromDog = await cluster.dog(['vdi', 'read', 'f.img', '0', '64M'], { port: cluster.port(1) });
  assert.is(fromDog.code, 0, fromDog.stderr);
  assert.is(createHash('sha256').update(fromDog.stdout).digest('hex'), want, 'dog vdi read via a surviving sheep');
  assert.is(await sha(`dd if=${vol} bs=1M count=64 status=none`), want, 'read back through sheepfs');
});

test('no sheep at all: cat of a volume fails with EIO in under 30 s; works again when the cluster returns', async () => {
  await cluster.kill9(1);
  await cluster.kill9(2);
  const t0 = Date.now();
  const r = await sh(`cat ${vol} > /dev/null`, 60_000);
  const secs = (Date.now() - t0) / 1000;
  assert.is(r.code, 1);
  assert.match(r.stderr, /Input\/output error/);
  assert.ok(secs < 30, `took ${secs} s`);
  // a second try, now that sheepfs knows nobody answers, fails at once
  const t1 = Date.now();
  const r2 = await sh(`dd if=${vol} of=/dev/null bs=4k count=1 status=none`, 60_000);
  assert.match(r2.stderr, /Input\/output error/);
  assert.ok(Date.now() - t1 < 10_000, `second failure took ${(Date.now() - t1) / 1000} s`);

  for (const i of [1, 2, 0]) await cluster.startSheep(i);
  const t2 = Date.now();
  await waitFor('the volume to read again', async () => (await sh(`dd if=${vol} of=/dev/null bs=1M count=64 status=none`)).code === 0, 90_000, 500);
  console.log(`volume readable ${(Date.now() - t2) / 1000} s after the sheep restarted`);
});

test.run();
