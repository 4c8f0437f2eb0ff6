/**
 * A hyper volume whose B-tree index has two levels, on real sheep: sparse
 * writes far apart through dog and through the NBD export, read back by
 * sha256 through both (and through the original's dog when present), a
 * snapshot and a clone written afterwards (their shared leaves copied, not
 * changed), check, recovery of the leaf objects after a sheep dies and comes
 * back, a cluster snapshot saved and loaded, deletion removing every leaf
 * object, and a backup between two snapshots restored.
 *
 * SHEEPDOG_TEST_BTREE_LEAF_ENTRIES makes leaves of 4 entries, so that two
 * dozen objects need the second level: 1.0's leaves hold 524287 entries, and
 * reaching them for real would mean writing 2 TiB. Trees with smaller leaves
 * have the same layout and every reader (the original's too) reads them.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SD_INODE_HEADER_SIZE, vidToVdiOid } from '../../shared/oid.js';
import { ORIGINAL_BIN, run, TestCluster, waitFor } from '../lib/cluster.js';
import { objectHolders, waitRecovered } from '../lib/recovery.js';
import { have, sh } from '../lib/shell.js';

process.env.SHEEPDOG_TEST_BTREE_LEAF_ENTRIES = '4';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const PIECE = 64 * 1024;
const SIZE = '256T'; // 2^26 objects: a flat VDI could not be this large
const dir = mkdtempSync(join(tmpdir(), 'sheep-hyper2-'));
const sock = join(dir, 'nbd.sock');
const ORIGINAL_DOG = join(ORIGINAL_BIN, 'dog');
let c: TestCluster;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const uri = (name: string): string => `nbd+unix:///${name}?socket=${sock}`;
/** dog in a shell, for redirections */
const dogSh = (args: string): string => `SHEEPDOG_DOG_PORT=${c.port(0)} SHEEPDOG_DOG_ADDR=127.0.0.1 ${join(process.cwd(), 'dog/dog')} ${args}`;

/** Object index k of the pattern: spread over the whole range, in no order. */
const far = (k: number): number => ((k * 2_654_435_761) >>> 0) % (1 << 26);
/** The byte piece k is filled with (generation g: rewritten later). */
const fill = (k: number, g = 0): number => (k * 37 + 11 + g * 101) % 251 + 1;
/** Where piece k starts: an odd offset inside its object. */
const at = (k: number): number => far(k) * OBJ + (k % 7) * 4096;

async function dog(args: string[], input?: Buffer): Promise<Buffer> {
  const r = await c.dog(args, { input });
  assert.is(r.code, 0, `dog ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** dog processes at once when reading pieces */
const DOG_READERS = 6;

/** sha256 of pieces `ks`, each read by its own dog, a few at a time. */
async function dogSha(name: string, ks: number[], snap: string[] = []): Promise<string> {
  const parts: Buffer[] = [];
  for (let i = 0; i < ks.length; i += DOG_READERS) {
    parts.push(...await Promise.all(ks.slice(i, i + DOG_READERS)
      .map((k) => dog(['vdi', 'read', ...snap, name, String(at(k)), String(PIECE)]))));
  }
  return sha(Buffer.concat(parts));
}

function expectSha(ks: number[], gen: (k: number) => number = () => 0): string {
  return sha(Buffer.concat(ks.map((k) => Buffer.alloc(PIECE, fill(k, gen(k))))));
}

/** qemu-io over the NBD export: one command per piece, every pattern checked by qemu-io itself. */
async function qemuIo(name: string, cmds: string[]): Promise<void> {
  const r = await sh(`qemu-io -f raw ${name.includes(':') ? '-r ' : ''}${cmds.map((x) => `-c '${x}'`).join(' ')} '${uri(name)}'`);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.out, /Pattern verification failed|error/i, r.out);
}

/** The B-tree header in the data_vdi_id area of vid's inode, read from a sheep's store. */
function rootHeader(vid: number): { depth: number; entries: number } {
  const name = vidToVdiOid(vid).toString(16).padStart(16, '0');
  const holder = objectHolders(c, [0, 1, 2]).get(name)![0]!;
  const fd = openSync(join(c.objDir(holder), name), 'r');
  const b = Buffer.alloc(8);
  readSync(fd, b, 0, 8, SD_INODE_HEADER_SIZE);
  closeSync(fd);
  assert.is(b.readUInt16LE(0), 0x6274);
  return { depth: b.readUInt16LE(2), entries: b.readUInt32LE(4) };
}

const btreeObjects = (vid?: number): string[] => [...objectHolders(c, [0, 1, 2]).keys()]
  .filter((n) => n.startsWith('1') && (vid === undefined || n.startsWith(`1${vid.toString(16).padStart(7, '0')}`)));

/** The vid of the working VDI `name` (not its snapshots). */
async function vidOf(name: string): Promise<number> {
  const rows = (await dog(['vdi', 'list', '-r', name])).toString().trim().split('\n').map((l) => l.split(' '));
  return parseInt(rows.find((r) => r[0] !== 's')![7]!, 16);
}

const byDog = Array.from({ length: 12 }, (_, k) => k);
const byNbd = Array.from({ length: 12 }, (_, k) => k + 12);
const all = [...byDog, ...byNbd];

test.before(async () => {
  for (const cmd of ['qemu-io']) {
    if (!(await have(cmd))) assert.unreachable(`${cmd} is missing (.ci/system-deps test installs it)`);
  }
  c = await TestCluster.start({ nodes: 3, sheepArgs: (i) => (i === 0 ? ['--nbd-unix', sock] : []) });
  const f = await c.dog(['cluster', 'format', '-c', '2']);
  assert.is(f.code, 0, f.stderr);
  await dog(['vdi', 'create', '-y', 'big', SIZE]);
});

test.after(async () => {
  await c?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('writes far apart through dog and NBD need the second level; both read them back', async () => {
  for (const k of byDog) await dog(['vdi', 'write', 'big', String(at(k)), String(PIECE)], Buffer.alloc(PIECE, fill(k)));
  const vid = await vidOf('big');
  assert.is(rootHeader(vid).depth, 2);
  await qemuIo('big', byNbd.map((k) => `write -P ${fill(k)} ${at(k)} ${PIECE}`));
  assert.ok(btreeObjects(vid).length >= 6, `leaves: ${btreeObjects(vid).join(' ')}`);
  assert.is(await dogSha('big', all), expectSha(all));
  await qemuIo('big', [...all.map((k) => `read -P ${fill(k)} ${at(k)} ${PIECE}`), `read -P 0 ${at(3) + PIECE} 4096`]);
  // unwritten space between the pieces reads as zeros
  assert.ok((await dog(['vdi', 'read', 'big', String(at(5) - OBJ), String(PIECE)])).equals(Buffer.alloc(PIECE)));
  const map = (await dog(['vdi', 'object', 'map', 'big'])).toString().trim().split('\n').slice(1);
  assert.is(map.length, all.length);
  const loc = (await dog(['vdi', 'object', 'location', '-i', String(far(15)), 'big'])).toString();
  assert.is(loc.match(/ has the object/g)?.length, 2);
  assert.is((await dog(['vdi', 'check', 'big'])).toString(), 'finish check&repair big\n');
});

test('many writes in flight over NBD fill a dense run of objects through the second level', async () => {
  const first = 50_000_000;
  const run = Array.from({ length: 16 }, (_, i) => first + i);
  assert.not.ok([...all, 30, 60].some((k) => run.includes(far(k))), 'the run misses the pieces');
  await qemuIo('big', [...run.map((o, i) => `aio_write -P ${i + 1} ${o * OBJ} ${OBJ}`), 'aio_flush']);
  const back = await dog(['vdi', 'read', 'big', String(first * OBJ), String(run.length * OBJ)]);
  assert.is(sha(back), sha(Buffer.concat(run.map((_, i) => Buffer.alloc(OBJ, i + 1)))));
  assert.is(await dogSha('big', all), expectSha(all));
});

test("the original's dog reads the two-level volume from our sheep and writes into it", async () => {
  if (!existsSync(ORIGINAL_DOG)) return;
  const parts: Buffer[] = [];
  for (const k of [0, 9, 15, 23]) {
    const r = await run(ORIGINAL_DOG, ['vdi', 'read', 'big', String(at(k)), String(PIECE), '-a', '127.0.0.1', '-p', String(c.port(0))]);
    assert.is(r.code, 0, r.stderr);
    parts.push(r.stdout);
  }
  assert.is(sha(Buffer.concat(parts)), expectSha([0, 9, 15, 23]));
  // and writes into it: 1.0's sd_inode_set_vid inserts into our leaf and rewrites the root
  const w = await run(ORIGINAL_DOG, ['vdi', 'write', 'big', String(at(30)), String(PIECE), '-a', '127.0.0.1', '-p', String(c.port(0))],
    { input: Buffer.alloc(PIECE, fill(30)) });
  assert.is(w.code, 0, w.stderr);
  assert.is(await dogSha('big', [...all, 30]), expectSha([...all, 30]));
  assert.is((await dog(['vdi', 'check', 'big'])).toString(), 'finish check&repair big\n');
});

test('a snapshot keeps its content while the working volume and a clone are written', async () => {
  const before = await vidOf('big');
  await dog(['vdi', 'snapshot', '-s', 'snap', 'big']);
  const after = await vidOf('big');
  assert.is.not(after, before);
  assert.is(rootHeader(after).depth, 2);
  const rewritten = [1, 13, 20];
  for (const k of rewritten) await dog(['vdi', 'write', 'big', String(at(k)), String(PIECE)], Buffer.alloc(PIECE, fill(k, 1)));
  await qemuIo('big', [`write -P ${fill(2, 1)} ${at(2)} ${PIECE}`]);
  rewritten.push(2);
  const gen = (k: number): number => (rewritten.includes(k) ? 1 : 0);
  await qemuIo('big', all.map((k) => `read -P ${fill(k, gen(k))} ${at(k)} ${PIECE}`));
  assert.is(await dogSha('big', all, ['-s', 'snap']), expectSha(all));
  assert.ok(btreeObjects(after).length > 0, 'the working volume copied the leaves it changed');

  await dog(['vdi', 'clone', '-s', 'snap', 'big', 'cl']);
  await qemuIo('cl', [`write -P ${fill(3, 2)} ${at(3)} ${PIECE}`, `write -P ${fill(60, 0)} ${at(60)} ${PIECE}`]);
  const cl = [...all, 60];
  assert.is(await dogSha('cl', cl), expectSha(cl, (k) => (k === 3 ? 2 : 0)));
  await qemuIo('big:snap', all.map((k) => `read -P ${fill(k)} ${at(k)} ${PIECE}`));
  assert.is((await dog(['vdi', 'check', 'cl'])).toString(), 'finish check&repair cl\n');
});

test('a dead sheep: the leaf objects are recovered, and everything reads back after it returns', async () => {
  await c.kill9(2);
  await c.waitMembers(2);
  await waitRecovered(c, [0, 1]);
  for (const name of btreeObjects()) assert.is(objectHolders(c, [0, 1]).get(name)?.length, 2, name);
  await qemuIo('big:snap', all.map((k) => `read -P ${fill(k)} ${at(k)} ${PIECE}`));
  await c.startSheep(2);
  await c.waitMembers(3);
  await waitRecovered(c, [0, 1, 2]);
  assert.is(await dogSha('big', all, ['-s', 'snap']), expectSha(all));
  assert.is(await dogSha('cl', [3, 60], []), expectSha([3, 60], (k) => (k === 3 ? 2 : 0)));
  assert.is((await dog(['vdi', 'check', 'big'])).toString(), 'finish check&repair big\n');
});

test('a cluster snapshot saves the leaf objects and loads them back', async () => {
  // a clone is no snapshot, so not saved: deleting it removes its leaves
  const cl = await vidOf('cl');
  await dog(['vdi', 'delete', 'cl']);
  await waitFor('the clone\'s leaves to be removed', () => btreeObjects(cl).length === 0, 30_000);
  const farm = join(dir, 'farm');
  await dog(['cluster', 'snapshot', 'save', 'hyper', farm]);
  const r = await c.dog(['cluster', 'snapshot', 'load', 'hyper', farm], { input: 'yes\n' });
  assert.is(r.code, 0, r.stderr);
  assert.is(await dogSha('big', all, ['-s', 'snap']), expectSha(all));
  assert.is(rootHeader(await vidOf('big')).depth, 2);
  await qemuIo('big', all.map((k) => `read -P ${fill(k)} ${at(k)} ${PIECE}`));
});

test('deleting every VDI removes every leaf object', async () => {
  await dog(['vdi', 'delete', 'big']);
  await dog(['vdi', 'delete', '-s', 'snap', 'big']);
  await waitFor('leaf objects to be removed', () => btreeObjects().length === 0, 30_000);
});

test('backup between two snapshots and restore of a two-level hyper volume', async () => {
  const first = [0, 1, 2, 3, 4, 5];
  const added = [12, 13, 14, 15, 16, 17];
  const both = [...first, ...added];
  await dog(['vdi', 'create', '-y', 'bk', SIZE]);
  for (const k of first) await dog(['vdi', 'write', 'bk', String(at(k)), String(PIECE)], Buffer.alloc(PIECE, fill(k)));
  await dog(['vdi', 'snapshot', '-s', 's1', 'bk']);
  // the second snapshot: two pieces rewritten, six added
  const gen = (k: number): number => ([2, 4].includes(k) ? 1 : 0);
  await qemuIo('bk', [...[2, 4, ...added].map((k) => `write -P ${fill(k, gen(k))} ${at(k)} ${PIECE}`)]);
  await dog(['vdi', 'snapshot', '-s', 's2', 'bk']);
  const file = join(dir, 'bk.backup');
  const b = await sh(dogSh(`vdi backup -F s1 -s s2 bk > ${file}`));
  assert.is(b.code, 0, b.stderr);
  // the working volume changes after s2; the backup restored onto s1 brings s2's content back
  await dog(['vdi', 'write', 'bk', String(at(3)), String(PIECE)], Buffer.alloc(PIECE, 0xee));
  const r = await sh(dogSh(`vdi restore -s s1 bk < ${file}`));
  assert.is(r.code, 0, r.stderr);
  await qemuIo('bk', both.map((k) => `read -P ${fill(k, gen(k))} ${at(k)} ${PIECE}`));
  await qemuIo('bk:s1', [...first.map((k) => `read -P ${fill(k)} ${at(k)} ${PIECE}`), `read -P 0 ${at(12)} ${PIECE}`]);
});

test.run();
