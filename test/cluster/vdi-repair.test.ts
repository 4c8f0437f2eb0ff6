/**
 * `vdi check` puts back a copy removed or corrupted on disk behind the
 * cluster's back; an incremental backup between two snapshots, restored onto
 * a VDI that holds the first, yields the second (sha256 over whole volumes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { oidHex, vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { TestCluster, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const SIZE = 24 * MiB;
let c: TestCluster;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const dog = (args: string[], input?: Buffer): Promise<RunResult> => c.dogOk(args, { input });

async function volumeSha(args: string[]): Promise<string> {
  const r = await dog(['vdi', 'read', ...args]);
  assert.is(r.stdout.length, SIZE);
  return sha(r.stdout);
}

async function vidOf(name: string, snapid = 0): Promise<number> {
  const line = (await dog(['vdi', 'list', '-r', name])).out.trim().split('\n').find((l) => l.split(' ')[2] === String(snapid));
  return parseInt(line!.split(' ')[7]!, 16);
}

const file = (node: number, oid: bigint) => join(c.objDir(node), oidHex(oid));

test.before(async () => {
  c = await TestCluster.start({ nodes: 3, copies: 3 });
});

test.after(async () => {
  await c?.cleanup();
});

test('vdi check restores a removed copy and a corrupted one, and reports fixed ones only', async () => {
  const data = randomBytes(SIZE);
  await dog(['vdi', 'create', 'chk', String(SIZE)]);
  await dog(['vdi', 'write', 'chk'], data);
  const vid = await vidOf('chk');
  const removed = vidToDataOid(vid, 1);
  const corrupted = vidToDataOid(vid, 4);
  const corruptedInode = vidToVdiOid(vid);
  // behind the cluster's back: one copy gone, one copy of a data object and one of the inode damaged
  rmSync(file(2, removed));
  const good = readFileSync(file(0, corrupted));
  const bad = Buffer.from(good);
  bad.fill(0xee, 1000, 5000);
  writeFileSync(file(1, corrupted), bad);
  const inodeGood = readFileSync(file(0, corruptedInode));
  const inodeBad = Buffer.from(inodeGood);
  inodeBad[600] = (inodeBad[600]! + 1) & 0xff;
  writeFileSync(file(2, corruptedInode), inodeBad);

  const r = await dog(['vdi', 'check', 'chk']);
  const lines = r.out.trim().split('\n').sort();
  assert.equal(lines, [
    `fixed missing ${removed.toString(16)}`,
    `fixed replica ${corruptedInode.toString(16)}`,
    `fixed replica ${corrupted.toString(16)}`,
    'finish check&repair chk',
  ].sort(), r.out);
  for (const n of [0, 1, 2]) {
    assert.ok(existsSync(file(n, removed)), `copy of ${oidHex(removed)} on sheep ${n}`);
    assert.ok(readFileSync(file(n, removed)).equals(readFileSync(file(0, removed))), `same ${oidHex(removed)} on ${n}`);
    assert.ok(readFileSync(file(n, corrupted)).equals(good), `repaired ${oidHex(corrupted)} on ${n}`);
    assert.ok(readFileSync(file(n, corruptedInode)).equals(inodeGood), `repaired inode on ${n}`);
  }
  assert.is(await volumeSha(['chk']), sha(data));
  // a second pass finds nothing to fix; -e agrees that nothing is missing
  assert.is((await dog(['vdi', 'check', 'chk'])).out, 'finish check&repair chk\n');
  assert.is((await dog(['vdi', 'check', '-e', 'chk'])).out, 'chk is fine, no object is missing.\n');
  // a copy removed after the sheep has opened it (the read above did) is seen too
  rmSync(file(0, removed));
  const e = await c.dog(['vdi', 'check', '-e', 'chk']);
  assert.ok(e.out.includes(removed.toString(16)) || e.stderr.includes(removed.toString(16)), `-e names the missing object: ${e.out}${e.stderr}`);
  assert.is((await dog(['vdi', 'check', 'chk'])).out, `fixed missing ${removed.toString(16)}\nfinish check&repair chk\n`);
  assert.ok(readFileSync(file(0, removed)).equals(readFileSync(file(1, removed))), 'the opened copy is back');
  assert.is(await volumeSha(['chk']), sha(data));
});

test('backup of the difference between two snapshots, restored onto a VDI holding the first, yields the second', async () => {
  const first = randomBytes(SIZE);
  await dog(['vdi', 'create', 'src', String(SIZE)]);
  await dog(['vdi', 'write', 'src'], first);
  await dog(['vdi', 'snapshot', '-s', 's1', 'src']);
  const second = Buffer.from(first);
  const edits: [number, Buffer][] = [[OBJ + 777, randomBytes(5000)], [3 * OBJ, randomBytes(OBJ)], [SIZE - 513, randomBytes(513)]];
  for (const [off, d] of edits) {
    await dog(['vdi', 'write', 'src', String(off), String(d.length)], d);
    d.copy(second, off);
  }
  await dog(['vdi', 'snapshot', '-s', 's2', 'src']);
  assert.is(await volumeSha(['-s', 's2', 'src']), sha(second));

  const backup = (await dog(['vdi', 'backup', '-F', 's1', '-s', 's2', 'src'])).stdout;
  // header, then only the changed ranges of objects 1, 3 and 5, then the end marker
  assert.is(backup.readUInt32LE(0), 1);
  assert.is(backup.readUInt32LE(4), 0x11921192);
  const records: number[] = [];
  let at = 8;
  for (;;) {
    const idx = backup.readUInt32LE(at);
    const len = backup.readUInt32LE(at + 8);
    at += 16;
    if (idx === 0xffffffff) break;
    records.push(idx);
    at += len;
  }
  assert.equal(records, [1, 3, 5]);
  assert.is(at, backup.length);
  assert.ok(backup.length < 2 * OBJ, `an incremental backup (${backup.length} bytes)`);

  // a VDI that holds the first snapshot's contents: a clone, snapshotted to restore onto
  await dog(['vdi', 'clone', '-s', 's1', 'src', 'dst']);
  await dog(['vdi', 'snapshot', '-s', 'base', 'dst']);
  assert.is(await volumeSha(['-s', 'base', 'dst']), sha(first));
  await dog(['vdi', 'restore', '-s', 'base', 'dst'], backup);
  // the restored image is the next snapshot of dst; the snapshot it was applied to is unchanged
  assert.is(await volumeSha(['-s', '2', 'dst']), sha(second));
  assert.is(await volumeSha(['-s', 'base', 'dst']), sha(first));
  assert.is(await volumeSha(['-s', 's1', 'src']), sha(first));
  assert.is(await volumeSha(['-s', 's2', 'src']), sha(second));
});

test('restore refuses a corrupted stream and changes nothing', async () => {
  const before = (await dog(['vdi', 'list', '-r'])).out;
  const r = await c.dog(['vdi', 'restore', '-s', 'base', 'dst'], { input: Buffer.from('not a backup stream') });
  assert.is(r.code, 2, r.stderr);
  assert.is(r.stderr, 'The backup file is corrupted\n');
  assert.is((await dog(['vdi', 'list', '-r'])).out, before);
});

test.run();
