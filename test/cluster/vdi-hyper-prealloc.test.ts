/**
 * vdi create -y -P: a preallocated hyper volume has every object, owned by
 * itself, in its B-tree index; reads, writes, check and delete work on it.
 * (Volumes whose tree needs the second level: vdi-hyper-two-level.test.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const SIZE = 32 * MiB;
let c: TestCluster;

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

test.before(async () => {
  c = await TestCluster.start({ nodes: 3, copies: 2 });
});

test.after(async () => {
  await c?.cleanup();
});

test('every object exists and is owned by the volume', async () => {
  await dog(['vdi', 'create', '-y', '-P', 'h', String(SIZE)]);
  const row = (await dog(['vdi', 'list', '-r', 'h'])).out.trim().split(' ');
  assert.is(row[3], String(SIZE), 'size');
  assert.is(row[4], String(SIZE), 'used: every object is its own');
  const vid = row[7]!;
  const map = (await dog(['vdi', 'object', 'map', 'h'])).out.trim().split('\n').slice(1);
  assert.equal(map.map((l) => l.trim().split(/\s+/)), Array.from({ length: 8 }, (_, i) => [String(i).padStart(8, '0'), vid]));
  const loc = await dog(['vdi', 'object', 'location', '-i', '7', 'h']);
  assert.is(loc.out.match(/ has the object/g)?.length, 2);
  assert.ok((await dog(['vdi', 'read', 'h'])).stdout.equals(Buffer.alloc(SIZE)));
  const data = Buffer.alloc(SIZE, 0x3c);
  await dog(['vdi', 'write', 'h'], data);
  assert.ok((await dog(['vdi', 'read', 'h'])).stdout.equals(data));
  assert.is((await dog(['vdi', 'check', 'h'])).out, 'finish check&repair h\n');
  await dog(['vdi', 'delete', 'h']);
  assert.is((await dog(['vdi', 'list', '-r'])).out, '');
});

test.run();
