/**
 * dog cluster snapshot save|list|show|load against real sheep: a saved cluster
 * comes back after it was changed; the directory is 1.0's farm format (when
 * the original dog is present: what it saves we load, and it lists and shows
 * what we saved the way we do).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FARM_MAGIC, SNAP_LOG_SIZE } from '../../dog/cluster/farm.js';
import { ORIGINAL_BIN, TestCluster, run, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const ORIGINAL_DOG = join(ORIGINAL_BIN, 'dog');
let c: TestCluster;
let farm: string;

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

const pattern = (len: number, seed: number): Buffer => Buffer.from(Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff));

async function listNames(): Promise<string[]> {
  return (await dog(['vdi', 'list', '-r'])).out.trim().split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 3).join(' ')).sort();
}

test.before(async () => {
  // two sheep, one copy: every load rewrites 12.5 MB inodes, and the suite's time bound is shared with a busy machine
  c = await TestCluster.start({ nodes: 2, copies: 1 });
  farm = join(c.root, 'farm');
  await dog(['vdi', 'create', 'v', String(16 * MiB)]);
  await dog(['vdi', 'write', 'v', '0', String(8 * MiB)], pattern(8 * MiB, 1));
  await dog(['vdi', 'snapshot', '-s', 's1', 'v']);
  await dog(['vdi', 'write', 'v', '0', String(4 * MiB)], pattern(4 * MiB, 2));
  await dog(['vdi', 'snapshot', '-s', 's2', 'v']);
  await dog(['vdi', 'create', 'w', String(8 * MiB)]);
  await dog(['vdi', 'write', 'w', '0', String(MiB)], pattern(MiB, 3));
  await dog(['vdi', 'snapshot', 'w']);
  await dog(['vdi', 'create', 'nosnap', String(4 * MiB)]);
});

test.after(async () => {
  await c?.cleanup();
});

test('save, then list and show', async () => {
  const tagNum = await c.dog(['cluster', 'snapshot', 'save', '1x', farm]);
  assert.is(tagNum.code, 64);
  assert.match(tagNum.stderr, /^Tag should not start with number\.\n/);
  await dog(['cluster', 'snapshot', 'save', 'first', farm]);
  const log = readFileSync(join(farm, 'user_snap'));
  assert.is(log.readUInt32LE(0), FARM_MAGIC);
  assert.is(log[8], 1, 'copies in the header');
  assert.is(log.length, 32 + SNAP_LOG_SIZE);
  assert.ok(statSync(join(farm, 'objects', 'ff')).isDirectory());
  const again = await c.dog(['cluster', 'snapshot', 'save', 'first', farm]);
  assert.is(again.code, 2);
  assert.is(again.stderr, 'Snapshot tag has already been used for another snapshot, please, use another one.\n' +
    `Fail to save snapshot to path: ${farm}.\n`);
  const none = await c.dog(['cluster', 'snapshot', 'save', 'x', farm, 'nosnap']);
  assert.is(none.code, 2);
  assert.match(none.stderr, /^Cannot execute\. It may be caused by:\n1\. The specified VDIs are not found\.\n/);
  await dog(['cluster', 'snapshot', 'save', 'second', farm, 'w']);
  const list = await dog(['cluster', 'snapshot', 'list', farm]);
  assert.match(list.out, /^Index\t\tTag\t\tSnapshot Time\n1\t\tfirst\t\t\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n2\t\tsecond\t\t.*\n$/);
  const show = await dog(['cluster', 'snapshot', 'show', 'first', farm]);
  // numbered in trunk (oid) order
  const lines = show.stderr.trim().split('\n');
  assert.equal(lines.map((l, i) => l.startsWith(`${i + 1}. VDI id: `)), [true, true, true]);
  assert.equal(lines.map((l) => l.replace(/^\d+\. VDI id: \w+, /, '')).sort(), ['name: v, tag: s1', 'name: v, tag: s2', 'name: w, tag: ']);
  assert.match((await dog(['cluster', 'snapshot', 'show', '2', farm])).stderr, /^1\. VDI id: \w+, name: w, tag: \n$/);
  const missing = await c.dog(['cluster', 'snapshot', 'show', 'nosuch', farm]);
  assert.is(missing.code, 2);
  assert.is(missing.stderr, 'Snapshot index or tag does not exist.\nFail to show snapshot\n');
});

test('load brings the saved snapshots back, with a working VDI on each chain', async () => {
  const before = await listNames();
  await dog(['vdi', 'write', 'v', '0', String(MiB)], Buffer.alloc(MiB, 0xee));
  await dog(['vdi', 'delete', 'w']);
  await dog(['vdi', 'delete', 'nosnap']);
  const r = await c.dog(['cluster', 'snapshot', 'load', 'first', farm], { input: 'yes\n' });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.out, /Caution! The cluster is not empty\./);
  assert.match(r.out, /using backend plain store/);
  // the snapshots and a working v and w; nosnap had no snapshot, so it is not in the farm
  assert.equal(await listNames(), before.filter((l) => !l.includes('nosnap')));
  assert.ok((await dog(['vdi', 'read', '-s', 's1', 'v', '0', String(8 * MiB)])).stdout.equals(pattern(8 * MiB, 1)));
  const v = (await dog(['vdi', 'read', 'v', '0', String(8 * MiB)])).stdout;
  assert.ok(v.equals(Buffer.concat([pattern(4 * MiB, 2), pattern(8 * MiB, 1).subarray(4 * MiB)])), 'v grows on s2');
  assert.ok((await dog(['vdi', 'read', 'w', '0', String(MiB)])).stdout.equals(pattern(MiB, 3)));
  // the loaded cluster is usable: writes, snapshots
  await dog(['vdi', 'write', 'v', '0', '4096'], Buffer.alloc(4096, 1));
  await dog(['vdi', 'snapshot', 'v']);
  await dog(['vdi', 'check', 'v']);
});

test("the original's dog reads our farm and we read its farm", async () => {
  if (!existsSync(ORIGINAL_DOG)) return;
  const env = { SHEEPDOG_DOG_PORT: String(c.port(0)), SHEEPDOG_DOG_ADDR: '127.0.0.1' };
  const orig = (args: string[], input?: string) => run(ORIGINAL_DOG, args, { env, input, timeoutMs: 120_000 });
  for (const args of [['list', farm], ['show', 'first', farm], ['show', '2', farm]]) {
    const o = await orig(['cluster', 'snapshot', ...args]);
    const ours = await dog(['cluster', 'snapshot', ...args]);
    assert.is(o.code, 0, o.stderr);
    assert.is(ours.out, o.out, args.join(' '));
    assert.is(ours.stderr, o.stderr, args.join(' '));
  }
  const theirs = join(c.root, 'farm-1.0');
  const s = await orig(['cluster', 'snapshot', 'save', 'them', theirs]);
  assert.is(s.code, 0, s.stderr);
  assert.is((await dog(['cluster', 'snapshot', 'show', 'them', theirs])).stderr,
    (await orig(['cluster', 'snapshot', 'show', 'them', theirs])).stderr);
  const before = await listNames();
  const l = await c.dog(['cluster', 'snapshot', 'load', 'them', theirs], { input: 'yes\n' });
  assert.is(l.code, 0, l.stderr);
  assert.equal(await listNames(), before);
  assert.ok((await dog(['vdi', 'read', '-s', 's1', 'v', '0', String(8 * MiB)])).stdout.equals(pattern(8 * MiB, 1)));
});

test.run();
