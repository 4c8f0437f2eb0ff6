/**
 * Multi-disk sheep (`sheep DIR,DISK1,DISK2,DISK3`): objects spread over every
 * disk; `dog node md unplug` moves a disk's objects to the others; a disk
 * removed behind the sheep's back is taken out and its objects come back from
 * the other sheep; `dog node md plug` adds a purged disk that takes objects.
 * Every byte stays readable and every object keeps its copies throughout.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { readVdi, sha } from '../lib/recovery.js';

const MiB = 1024 * 1024;
const NODES = 3;
const COPIES = 2;
const VDI_SIZE = 32 * MiB;
const OBJ = /^[0-9a-f]{16}(_\d+)?$/;
let cluster: TestCluster;
let model: Buffer;

const disk = (i: number, d: number) => join(cluster.dir(i), `d${d}`);
/** disks each sheep currently uses */
const inUse: number[][] = [[0, 1, 2], [0, 1, 2], [0, 1, 2]];

function objectsOn(path: string): string[] {
  return existsSync(path) ? readdirSync(path).filter((n) => OBJ.test(n)) : [];
}

/** object name -> sheep holding it live (on any of their disks in use) */
function holders(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let i = 0; i < NODES; i++) {
    const names = new Set(inUse[i]!.flatMap((d) => objectsOn(disk(i, d))));
    for (const n of names) out.set(n, [...(out.get(n) ?? []), i]);
  }
  return out;
}

function copiesRestored(): boolean {
  const h = holders();
  return h.size > 0 && [...h.values()].every((at) => at.length === COPIES);
}

async function mdRows(i: number): Promise<string[]> {
  const r = await cluster.dog(['node', 'md', 'info'], { port: cluster.port(i) });
  assert.is(r.code, 0, r.stderr);
  return r.out.trim().split('\n').slice(1);
}

async function assertContents(port?: number): Promise<void> {
  assert.is(sha(await readVdi(cluster, 'md', port)), sha(model), 'every byte reads back');
}

test.before(async () => {
  cluster = await TestCluster.start({
    nodes: NODES, copies: COPIES, disks: (_i, dir) => [0, 1, 2].map((d) => join(dir, `d${d}`)),
    // one sheep with direct I/O on its disks
    sheepArgs: (i) => (i === 2 ? ['-D'] : []),
  });
  // 1 MiB objects: enough of them to reach every disk
  let r = await cluster.dog(['vdi', 'create', '-z', '20', 'md', String(VDI_SIZE)]);
  assert.is(r.code, 0, r.stderr);
  model = randomBytes(VDI_SIZE);
  r = await cluster.dog(['vdi', 'write', 'md'], { input: model });
  assert.is(r.code, 0, r.stderr);
});

test.after(async () => {
  await cluster?.cleanup();
});

test('writes land on all three disks of every sheep; md info lists them', async () => {
  for (let i = 0; i < NODES; i++) {
    for (const d of [0, 1, 2]) assert.ok(objectsOn(disk(i, d)).length > 0, `sheep ${i} disk d${d} holds objects`);
    assert.not.ok(objectsOn(join(cluster.dir(i), 'obj')).length > 0, 'nothing in DIR/obj');
    const rows = await mdRows(i);
    assert.is(rows.length, 3);
    rows.forEach((row, d) => assert.match(row, new RegExp(`^ ${d}\\t.*\\t${disk(i, d)}$`)));
  }
  const all = await cluster.dog(['node', 'md', 'info', '--all']);
  assert.is(all.code, 0, all.stderr);
  assert.is(all.out.split('\n').filter((l) => /^Node \d+:$/.test(l)).length, NODES);
  assert.ok(copiesRestored(), 'every object has its copies');
});

test('unplug moves the disk\'s objects to the others; nothing is lost', async () => {
  const r = await cluster.dog(['node', 'md', 'unplug', '-f', disk(0, 1)]);
  assert.is(r.code, 0, r.stderr);
  inUse[0] = [0, 2];
  assert.is((await mdRows(0)).length, 2);
  await waitFor('d1 of sheep 0 to be emptied', () => objectsOn(disk(0, 1)).length === 0, 60_000, 200);
  await waitFor('copies restored', copiesRestored, 60_000, 200);
  await assertContents(cluster.port(0));
  const again = await cluster.dog(['node', 'md', 'unplug', '-f', disk(0, 1)]);
  assert.is(again.code, 1);
  assert.match(again.stderr, 'Failed to execute request, look for sheep.log for more information');
});

test('a disk removed behind the sheep\'s back is dropped and its objects recovered from the others', async () => {
  const lost = objectsOn(disk(1, 2));
  assert.ok(lost.length > 0);
  rmSync(disk(1, 2), { recursive: true, force: true });
  inUse[1] = [0, 1];
  await waitFor('sheep 1 to drop the disk', async () => (await mdRows(1)).length === 2, 30_000, 200);
  await waitFor('copies restored', copiesRestored, 90_000, 250);
  const h = holders();
  for (const n of lost) assert.ok(h.get(n)?.includes(1), `${n} back on sheep 1`);
  await assertContents(cluster.port(1));
  await assertContents(cluster.port(2));
});

test('plug adds a purged disk that takes its share', async () => {
  const fresh = disk(0, 3);
  const r = await cluster.dog(['node', 'md', 'plug', '-f', fresh]);
  assert.is(r.code, 0, r.stderr);
  inUse[0] = [0, 2, 3];
  assert.is((await mdRows(0)).length, 3);
  await waitFor('objects on the new disk', () => objectsOn(fresh).length > 0, 60_000, 200);
  await waitFor('copies restored', copiesRestored, 60_000, 200);
  const dup = await cluster.dog(['node', 'md', 'plug', '-f', fresh]);
  assert.is(dup.code, 1);
  await assertContents(cluster.port(0));
});

test.run();
