/**
 * Snapshots and clones of hyper volumes against real sheep: the snapshot and
 * the working volume share the B-tree's objects and part on the first write
 * (copy on write); clones share or (-n) copy them; deleting a snapshot whose
 * descendants still read its objects loses nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
// two objects, few commands: every dog command costs seconds on a loaded machine
const SIZE = 8 * MiB;
let c: TestCluster;

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

const pattern = (len: number, seed: number): Buffer => Buffer.from(Array.from({ length: len }, (_, i) => (i * 13 + seed) & 0xff));
const A = pattern(SIZE, 1);
const B = pattern(4 * MiB, 2);
const C = pattern(4 * MiB, 3);

async function read(args: string[]): Promise<Buffer> {
  return (await dog(['vdi', 'read', ...args])).stdout;
}

/** name snapid -> [size, used, shared] from vdi list -r */
async function usage(): Promise<Map<string, number[]>> {
  const rows = (await dog(['vdi', 'list', '-r'])).out.trim().split('\n').map((l) => l.split(' '));
  return new Map(rows.map((f) => [`${f[1]} ${f[2]}`, [Number(f[3]), Number(f[4]), Number(f[5])]]));
}

test.before(async () => {
  c = await TestCluster.start({ nodes: 3, copies: 2 });
  await dog(['vdi', 'create', '-y', 'h', String(SIZE)]);
  await dog(['vdi', 'write', 'h'], A);
});

test.after(async () => {
  await c?.cleanup();
});

test('snapshot: shared until written, then copied on write', async () => {
  await dog(['vdi', 'snapshot', '-s', 's1', 'h']);
  await dog(['vdi', 'write', 'h', '0', String(4 * MiB)], B);
  assert.ok((await read(['h'])).equals(Buffer.concat([B, A.subarray(4 * MiB)])));
  const u = await usage();
  assert.equal(u.get('h 1'), [SIZE, SIZE, 0]);
  assert.equal(u.get('h 0'), [SIZE, 4 * MiB, SIZE - 4 * MiB]);
});

test('clones: shared, and -n with their own copies', async () => {
  await dog(['vdi', 'clone', '-s', 's1', 'h', 'c']);
  await dog(['vdi', 'write', 'c', String(4 * MiB), String(4 * MiB)], C);
  assert.ok((await read(['c'])).equals(Buffer.concat([A.subarray(0, 4 * MiB), C])));
  assert.ok((await read(['-s', 's1', 'h'])).equals(A), 'the snapshot keeps its data');
  await dog(['vdi', 'clone', '-n', '-s', 's1', 'h', 'd']);
  assert.ok((await read(['d'])).equals(A));
});

test('deleting the snapshot keeps what its descendants read', async () => {
  await dog(['vdi', 'delete', '-s', 's1', 'h']);
  assert.ok((await read(['h'])).equals(Buffer.concat([B, A.subarray(4 * MiB)])));
  assert.ok((await read(['c'])).equals(Buffer.concat([A.subarray(0, 4 * MiB), C])));
  for (const v of ['h', 'c', 'd']) await dog(['vdi', 'delete', v]);
  assert.is((await dog(['vdi', 'list', '-r'])).out, '');
});

test.run();
