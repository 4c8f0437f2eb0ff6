/**
 * 64 MiB of random data written with `dog vdi write` at assorted offsets reads
 * back with the same sha256; every written data object is on exactly 3
 * different nodes; unwritten ranges read as zeros and take no space.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { oidHex, vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { TestCluster } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const VDI_SIZE = 256 * MiB;
/** vid of "data.img" (FNV-1a of the name, low 24 bits) */
let vid = 0;
let cluster: TestCluster;
const model = Buffer.alloc(VDI_SIZE);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** (offset, length) pieces: unaligned, across object boundaries, the very last byte; 64 MiB in all. */
const PIECES: [number, number][] = [
  [0, 1 * MiB],
  [OBJ - 1000, 2000],                  // across the first object boundary
  [3 * OBJ + 12345, 5 * OBJ + 777],    // unaligned start and end, spans 6 objects
  [10 * OBJ, 4 * OBJ],                 // exactly whole objects
  [20 * OBJ + 1, 1],                   // one byte
  [30 * OBJ + 4095, 16 * MiB + 3],
  [VDI_SIZE - 1, 1],                   // the last byte of the VDI
];
const filled = PIECES.reduce((s, [, l]) => s + l, 0);
PIECES.push([48 * OBJ + 333, 64 * MiB - filled]); // top up to 64 MiB exactly

test.before(async () => {
  // without -n: acknowledged writes go through the durable path users get by default
  cluster = await TestCluster.start({ nodes: 3, copies: 3, nosync: false });
  const r = await cluster.dog(['vdi', 'create', '-v', 'data.img', String(VDI_SIZE)]);
  assert.is(r.code, 0, r.stderr);
  vid = parseInt(r.out.trim().split(' ').pop()!, 16);
  assert.ok(vid > 0, `vid from: ${r.out}`);
});

test.after(async () => {
  await cluster?.cleanup();
});

test('pieces add up to 64 MiB and stay inside the VDI', () => {
  assert.is(PIECES.reduce((s, [, l]) => s + l, 0), 64 * MiB);
  for (const [o, l] of PIECES) assert.ok(o + l <= VDI_SIZE, `${o}+${l}`);
});

test('random data written at assorted offsets reads back with the same sha256', async () => {
  for (const [off, len] of PIECES) {
    const data = randomBytes(len);
    data.copy(model, off);
    const r = await cluster.dog(['vdi', 'write', 'data.img', String(off), String(len)], { input: data });
    assert.is(r.code, 0, `write ${off}+${len}: ${r.stderr}`);
  }
  const whole = await cluster.dog(['vdi', 'read', 'data.img']);
  assert.is(whole.code, 0, whole.stderr);
  assert.is(whole.stdout.length, VDI_SIZE);
  assert.is(sha(whole.stdout), sha(model));
  // unaligned partial reads through another gateway
  for (const [off, len] of [[OBJ - 7, 14], [3 * OBJ + 12000, 9000], [VDI_SIZE - 3, 3]] as const) {
    const r = await cluster.dog(['vdi', 'read', 'data.img', String(off), String(len)], { port: cluster.port(2) });
    assert.is(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(model.subarray(off, off + len)), `read ${off}+${len}`);
  }
});

test('every written data object is on exactly 3 different nodes; unwritten ones nowhere', () => {
  const written = new Set<number>();
  for (const [off, len] of PIECES) {
    for (let i = Math.floor(off / OBJ); i <= Math.floor((off + len - 1) / OBJ); i++) written.add(i);
  }
  for (let idx = 0; idx < VDI_SIZE / OBJ; idx++) {
    const name = oidHex(vidToDataOid(vid, idx));
    const holders = [0, 1, 2].filter((n) => existsSync(join(cluster.objDir(n), name)));
    assert.is(holders.length, written.has(idx) ? 3 : 0, `object ${name} (index ${idx}) on nodes ${holders}`);
  }
  const inode = oidHex(vidToVdiOid(vid));
  for (const n of [0, 1, 2]) assert.ok(existsSync(join(cluster.objDir(n), inode)), `inode on node ${n}`);
});

test('unwritten ranges take no space: stores hold the written objects and a sparse inode', () => {
  const written = new Set<number>();
  for (const [off, len] of PIECES) {
    for (let i = Math.floor(off / OBJ); i <= Math.floor((off + len - 1) / OBJ); i++) written.add(i);
  }
  for (const n of [0, 1, 2]) {
    const dir = cluster.objDir(n);
    let allocated = 0;
    for (const f of readdirSync(dir)) {
      if (f.startsWith('.')) continue;
      allocated += statSync(join(dir, f)).blocks * 512;
    }
    // data objects are preallocated in full; the 12 MB inode is mostly holes
    const limit = written.size * OBJ + 1 * MiB;
    assert.ok(allocated <= limit, `node ${n}: ${allocated} bytes allocated, expected at most ${limit}`);
    const inode = statSync(join(dir, oidHex(vidToVdiOid(vid))));
    assert.ok(inode.blocks * 512 < 64 * 1024, `inode is sparse (${inode.blocks * 512} bytes allocated)`);
  }
});

test('the inode, epoch log and config on disk have the layout of the spec', () => {
  const inode = readFileSync(join(cluster.objDir(1), oidHex(vidToVdiOid(vid))));
  assert.is(inode.length, 12587576);
  assert.is(inode.subarray(0, 9).toString(), 'data.img\0');
  const ctimeSec = Number(inode.readBigUInt64LE(512) >> 32n);
  assert.ok(Math.abs(ctimeSec - Date.now() / 1000) < 600, 'create_time (sec << 32 | nsec) at 512');
  assert.is(inode.readBigUInt64LE(520), 0n, 'snap_ctime 0: not a snapshot');
  assert.is(inode.readBigUInt64LE(536), BigInt(VDI_SIZE), 'vdi_size at 536');
  assert.equal([inode[552], inode[553], inode[554], inode[555]], [0, 0, 3, 22], 'copy/store policy, copies, shift');
  assert.is(inode.readUInt32LE(556), 1, 'snap_id');
  assert.is(inode.readUInt32LE(560), vid, 'vdi_id');
  assert.is(inode.readUInt32LE(564), 0, 'parent');
  assert.is(inode.readUInt32LE(4664 + 4 * 0), vid, 'data_vdi_id[0] owns object 0');
  assert.is(inode.readUInt32LE(4664 + 4 * 15), 0, 'data_vdi_id[15] unallocated');
  const epochFile = readFileSync(join(cluster.dir(0), 'epoch', '00000001'));
  assert.is(epochFile.length, 3 * 80 + 8, 'three sd_node records and a time stamp');
  assert.equal([0, 1, 2].map((i) => epochFile.readUInt16LE(i * 80 + 40)), cluster.ports.slice(0, 3));
  assert.equal([0, 1, 2].map((i) => epochFile.readUInt32LE(i * 80 + 68)), [0, 1, 2], 'zones');
  const config = readFileSync(join(cluster.dir(0), 'config'));
  assert.is(config.length, 40);
  assert.is(config[10], 3, 'copies');
  assert.is(config.subarray(11, 17).toString(), 'plain\0');
  assert.is(config.readUInt16LE(30), 6, 'format version');
});

test.run();
