/**
 * The rest of `dog vdi` against a real cluster (formatted with -l, so locks
 * are kept): bad input gets the original's message and exit code and changes
 * nothing; attributes (-x exclusive, -d delete); lock list and unlock;
 * object location and track.
 */
import { readdirSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SheepConnection } from '../../shared/client.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { oidHex, SD_INODE_HEADER_SIZE, vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { TestCluster, waitFor, type RunResult } from '../lib/cluster.js';
import { lockVdi } from '../lib/locks.js';

const MiB = 1024 * 1024;
let c: TestCluster;

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

/** What the cluster holds: the raw VDI list and every node's object files. */
async function state(): Promise<string> {
  const list = (await dog(['vdi', 'list', '-r'])).out;
  const objs = [0, 1, 2].map((i) => readdirSync(c.objDir(i)).sort().join(' '));
  return [list, ...objs].join('\n');
}

async function vidOf(name: string, snapid = 0): Promise<number> {
  const line = (await dog(['vdi', 'list', '-r', name])).out.trim().split('\n').find((l) => l.split(' ')[2] === String(snapid));
  return parseInt(line!.split(' ')[7]!, 16);
}

test.before(async () => {
  c = await TestCluster.start({ nodes: 3 });
  const f = await c.dog(['cluster', 'format', '-c', '3', '-l']);
  assert.is(f.code, 0, f.stderr);
  await dog(['vdi', 'create', 'v', String(16 * MiB)]);
  await dog(['vdi', 'write', 'v', '0', '4096'], Buffer.alloc(4096, 1));
  await dog(['vdi', 'snapshot', '-s', 'one', 'v']);
  await dog(['vdi', 'write', 'v', String(4 * MiB), '4096'], Buffer.alloc(4096, 2));
  await dog(['vdi', 'snapshot', 'v']);
});

test.after(async () => {
  await c?.cleanup();
});

/** [args, stdin, exit code, the first stderr lines] */
const BAD: [string[], string | undefined, number, string][] = [
  [['vdi', 'read', '-s', '9', 'v'], undefined, 1,
    'Failed to open VDI v (snapshot id: 9 snapshot tag: ): Failed to find requested tag'],
  [['vdi', 'read', '-s', 'nosuch', 'v'], undefined, 1,
    'Failed to open VDI v (snapshot id: 0 snapshot tag: nosuch): Failed to find requested tag'],
  [['vdi', 'read', '-s', 'one', 'nonexistent'], undefined, 1,
    'Failed to open VDI nonexistent (snapshot id: 0 snapshot tag: one): No VDI found'],
  [['vdi', 'read', '-s', '0', 'v'], undefined, 1, 'The snapshot id must be larger than zero'],
  [['vdi', 'clone', '-s', '9', 'v', 'x'], undefined, 1,
    'Failed to open VDI v (snapshot id: 9 snapshot tag: ): Failed to find requested tag'],
  [['vdi', 'clone', '-s', 'nosuch', 'v', 'x'], undefined, 1,
    'Failed to open VDI v (snapshot id: 0 snapshot tag: nosuch): Failed to find requested tag'],
  // the working VDI is not a snapshot: no -s, or an id no snapshot has, cannot name it
  [['vdi', 'clone', 'v', 'x'], undefined, 64, "Only snapshot VDIs can be cloned\nPlease specify the '-s' option"],
  [['vdi', 'clone', '-s', '3', 'v', 'x'], undefined, 1,
    'Failed to open VDI v (snapshot id: 3 snapshot tag: ): Failed to find requested tag'],
  [['vdi', 'clone', '-s', 'one', 'v'], undefined, 64, 'Destination VDI name must be specified'],
  [['vdi', 'clone', '-s', 'one', 'v', 'v'], undefined, 1, 'Failed to create VDI v: VDI exists already'],
  [['vdi', 'snapshot', '-s', 'one', 'v'], undefined, 1,
    'Failed to create snapshot for v, maybe snapshot id (0) or tag (one) is existed'],
  [['vdi', 'snapshot', '-s', '5', 'v'], undefined, 64, 'Please specify a non-integer value for a snapshot tag name'],
  [['vdi', 'snapshot', 'nonexistent'], undefined, 1, 'Failed to create snapshot for nonexistent: No VDI found'],
  [['vdi', 'rollback', '-f', '-s', '9', 'v'], undefined, 1,
    'Failed to open VDI v (snapshot id: 9 snapshot tag: ): Failed to find requested tag'],
  [['vdi', 'rollback', '-f', 'v'], undefined, 64, "Please specify the '-s' option"],
  [['vdi', 'delete', '-s', '9', 'v'], undefined, 0,
    'Failed to open VDI v (snapshot id: 9 snapshot tag: ): Failed to find requested tag'],
  [['vdi', 'delete', '-s', 'nosuch', 'v'], undefined, 0,
    'Failed to open VDI v (snapshot id: 0 snapshot tag: nosuch): Failed to find requested tag'],
  [['vdi', 'resize', 'v', '8M'], undefined, 64, 'Shrinking VDIs is not implemented'],
  [['vdi', 'resize', 'v', '5T'], undefined, 64, 'New VDI size is too large. This volume\'s max size is 4398046511104'],
  [['vdi', 'setattr', 'v', 'k'.repeat(256), 'x'], undefined, 64, 'Attribute key is longer than 255 bytes'],
  [['vdi', 'setattr', 'v', 'k', 'x'.repeat(65537)], undefined, 64, 'Attribute value is longer than 65536 bytes'],
  [['vdi', 'setattr', 'v', 'k'], 'y'.repeat(70000), 64, 'Attribute value is longer than 65536 bytes'],
  [['vdi', 'setattr', 'nonexistent', 'k', 'x'], undefined, 5, 'VDI not found'],
  [['vdi', 'getattr', 'v', 'nokey'], undefined, 5, "Attribute 'nokey' not found"],
  [['vdi', 'setattr', '-d', 'v', 'nokey'], undefined, 5, "Attribute 'nokey' not found"],
  [['vdi', 'lock', 'unlock', 'v'], undefined, 1, `VDI v (vid=VID) is not locked`],
  [['vdi', 'backup', '-s', 'one', 'v'], undefined, 64, "Please specify snapshots with '-F' and '-s' options"],
];

test('bad input gets the original message and exit code, and changes nothing', async () => {
  const vid = (await vidOf('v')).toString(16);
  const before = await state();
  for (const [args, input, code, message] of BAD) {
    const r = await c.dog(args, { input });
    const want = message.replace('VID', vid);
    assert.is(r.code, code, `dog ${args.join(' ').slice(0, 80)}: exit ${r.code}, ${r.stderr.slice(0, 300)}`);
    assert.ok(r.stderr.startsWith(`${want}\n`), `dog ${args.join(' ').slice(0, 80)}:\n${r.stderr.slice(0, 300)}\nwanted\n${want}`);
    // the usage text goes to stdout, as the original prints it
    if (code === 64) assert.match(r.out, /^Usage: dog vdi /, `usage: ${args.join(' ').slice(0, 80)}`);
    else assert.is(r.out, '', `nothing on stdout: ${args.join(' ').slice(0, 80)}`);
  }
  assert.is(await state(), before);
});

test('attributes: set, get, replace, -x refuses an existing key, -d deletes; values from stdin', async () => {
  await dog(['vdi', 'setattr', 'v', 'color', 'blue']);
  assert.is((await dog(['vdi', 'getattr', 'v', 'color'])).out, 'blue');
  await dog(['vdi', 'setattr', 'v', 'color', 'green']);
  assert.is((await dog(['vdi', 'getattr', 'v', 'color'])).out, 'green');
  const x = await c.dog(['vdi', 'setattr', '-x', 'v', 'color', 'red']);
  assert.is(x.code, 3);
  assert.is(x.stderr, "The attribute 'color' already exists\n");
  assert.is((await dog(['vdi', 'getattr', 'v', 'color'])).out, 'green');
  await dog(['vdi', 'setattr', '-x', 'v', 'shape', 'round']);
  const big = 'z'.repeat(65536);
  await dog(['vdi', 'setattr', 'v', 'big'], big);
  assert.is((await dog(['vdi', 'getattr', 'v', 'big'])).out, big);
  await dog(['vdi', 'setattr', '-d', 'v', 'color']);
  const gone = await c.dog(['vdi', 'getattr', 'v', 'color']);
  assert.is(gone.code, 5);
  assert.is(gone.stderr, "Attribute 'color' not found\n");
  assert.is((await dog(['vdi', 'getattr', 'v', 'shape'])).out, 'round');
  // a deleted key can be set again, exclusively
  await dog(['vdi', 'setattr', '-x', 'v', 'color', 'black']);
  assert.is((await dog(['vdi', 'getattr', 'v', 'color'])).out, 'black');
});

test('lock list shows who holds a lock; unlock releases it; a second normal lock is refused', async () => {
  const vid = (await vidOf('v')).toString(16);
  assert.is((await dog(['vdi', 'lock', 'list'])).out, '  Name         Id  VDI id  Tag            Owner node(s)\n');
  assert.is(await lockVdi(c.port(1), 'v', 0), SD_RES.SUCCESS);
  assert.is(await lockVdi(c.port(2), 'v', 0), SD_RES.VDI_LOCKED);
  const row = `  ${'v'.padEnd(8)}      0  ${vid.padStart(6)}  ${''.padEnd(13)}  IPv4 ip:127.0.0.1 port:${c.port(1)}\n`;
  assert.is((await dog(['vdi', 'lock', 'list'])).out, `  Name         Id  VDI id  Tag            Owner node(s)\n${row}`);
  // every sheep knows the lock
  assert.is((await c.dog(['vdi', 'lock', 'list'], { port: c.port(2) })).out.split('\n')[1], row.trimEnd());
  await dog(['vdi', 'lock', 'unlock', 'v']);
  assert.is((await dog(['vdi', 'lock', 'list'])).out.split('\n').length, 2);
  assert.is(await lockVdi(c.port(2), 'v', 0), SD_RES.SUCCESS);
  await dog(['vdi', 'lock', 'unlock', 'v']);
  // shared locks: the first participant is "modified", later ones "invalidated"
  assert.is(await lockVdi(c.port(0), 'v', 1), SD_RES.SUCCESS);
  assert.is(await lockVdi(c.port(1), 'v', 1), SD_RES.SUCCESS);
  assert.is(await lockVdi(c.port(2), 'v', 0), SD_RES.VDI_LOCKED);
  assert.is((await dog(['vdi', 'lock', 'list'])).out.split('\n')[1],
    `  ${'v'.padEnd(8)}      0  ${vid.padStart(6)}  ${''.padEnd(13)}  IPv4 ip:127.0.0.1 port:${c.port(0)}(modified)` +
    ` IPv4 ip:127.0.0.1 port:${c.port(1)}(invalidated)`);
});

test('object location and track name the object and the nodes that hold it', async () => {
  const snap = (await vidOf('v', 1)).toString(16);
  const nodes = [0, 1, 2].map((i) => `127.0.0.1:${c.port(i)}`);
  const loc = (await dog(['vdi', 'object', 'location', '-s', 'one', '-i', '0', 'v'])).out.split('\n');
  assert.is(loc[0], `Looking for the object 0x${snap}00000000 (vid 0x${snap} idx 0, 3 copies) with 3 nodes`);
  assert.equal(loc.slice(2, 5), nodes.map((n) => `${n} has the object`));
  assert.is(loc[6], 'According to sheepdog algorithm, the object should be located at:');
  assert.equal(loc[7]!.split(' ').sort(), [...nodes].sort());
  const none = await dog(['vdi', 'object', 'location', '-i', '3', 'v']);
  assert.is(none.out, `The inode object 0x${(await vidOf('v')).toString(16)} idx 3 is not allocated\n`);
  const tr = (await dog(['vdi', 'track', '-i', '1', 'v'])).out.split('\n');
  const live = (await vidOf('v')).toString(16);
  const owner = (await vidOf('v', 2)).toString(16);
  assert.is(tr[0], `Tracking the object 0x${owner}00000001 (the inode vid 0x${live} idx 1) with 3 nodes`);
  assert.is(tr[2], `obj ${owner}00000001 locations at epoch 1, copies = 3`);
  assert.is(tr[3], '-'.repeat(51));
  assert.equal(tr.slice(4, 7).sort(), [...nodes].sort());
});

test('object dump-inode prints an inode file: header fields, owners and generation references', async () => {
  const live = await vidOf('v');
  const snap = await vidOf('v', 2);
  const r = await dog(['vdi', 'object', 'dump-inode', `${c.objDir(1)}/${oidHex(vidToVdiOid(live))}`]);
  const lines = r.out.split('\n');
  assert.is(lines[0], 'name: v');
  assert.ok(lines.includes(`vdi_id: ${live.toString(16)}`) && lines.includes(`parent_vdi_id: ${snap.toString(16)}`), r.out);
  assert.ok(lines.includes('snap_id: 3') && lines.includes('snap_ctime: 0'), r.out);
  const idx = lines.indexOf('data_vdi_id:');
  const gref = lines.indexOf('gref:');
  const first = (await vidOf('v', 1)).toString(16);
  assert.equal(lines.slice(idx + 1, gref), [`0: ${first}`, `1: ${snap.toString(16)}`]);
  // both objects were inherited: generation 2 and 1 here (two and one snapshots ago), no sharers yet
  assert.equal(lines.slice(gref + 1, gref + 3), [`0: ${first}, 2, 0`, `1: ${snap.toString(16)}, 1, 0`]);
  const missing = await c.dog(['vdi', 'object', 'dump-inode', `${c.objDir(1)}/nosuchfile`]);
  assert.is(missing.code, 1);
  assert.is(missing.stderr, 'failed to open inode object file: No such file or directory\n');
});

/** Object I/O as QEMU does it. */
async function objectOp(op: number, oid: bigint, offset: number, data?: Buffer, length = 0): Promise<Buffer> {
  const conn = await SheepConnection.connect({ host: '127.0.0.1', port: c.port(0) }, 5000);
  try {
    const h = SdHeader.request(op, data ? SD_FLAG.CMD_WRITE : 0, data ? data.length : length);
    h.objOid = oid;
    h.objOffset = offset;
    const r = await conn.request(h, data, 10_000);
    assert.is(r.hdr.result, SD_RES.SUCCESS, `op ${op} on ${oid.toString(16)}`);
    return r.data;
  } finally {
    conn.close();
  }
}

test('discard: zeroing an index slot (newer QEMU) or DISCARD_OBJ (older QEMU) frees an object nothing else holds', async () => {
  await dog(['vdi', 'create', 'dis', String(16 * MiB)]);
  await dog(['vdi', 'write', 'dis'], Buffer.alloc(16 * MiB, 7));
  await dog(['vdi', 'snapshot', '-s', 'keep', 'dis']);
  await dog(['vdi', 'write', 'dis', String(8 * MiB), String(8 * MiB)], Buffer.alloc(8 * MiB, 9));
  const snap = await vidOf('dis', 1);
  const live = await vidOf('dis');
  const inode = vidToVdiOid(live);
  const onDisk = (oid: bigint) => [0, 1, 2].filter((i) => readdirSync(c.objDir(i)).includes(oidHex(oid))).length;
  // slot 2 is the live VDI's own object: discarding it frees it on every node
  await objectOp(SD_OP.WRITE_OBJ, inode, SD_INODE_HEADER_SIZE + 4 * 2, Buffer.alloc(4));
  await waitFor('the discarded object to go', () => onDisk(vidToDataOid(live, 2)) === 0, 10_000);
  // slot 3 the same way through DISCARD_OBJ
  await objectOp(SD_OP.DISCARD_OBJ, vidToDataOid(live, 3), 0, undefined, 0);
  await waitFor('the discarded object to go', () => onDisk(vidToDataOid(live, 3)) === 0, 10_000);
  // slot 0 still belongs to the snapshot: the live VDI forgets it, the snapshot keeps it
  await objectOp(SD_OP.WRITE_OBJ, inode, SD_INODE_HEADER_SIZE, Buffer.alloc(4));
  assert.is(onDisk(vidToDataOid(snap, 0)), 3);
  const now = (await dog(['vdi', 'read', 'dis'])).stdout;
  const want = Buffer.concat([Buffer.alloc(4 * MiB), Buffer.alloc(4 * MiB, 7), Buffer.alloc(8 * MiB)]);
  assert.ok(now.equals(want), 'discarded ranges read as zeros');
  assert.ok((await dog(['vdi', 'read', '-s', 'keep', 'dis'])).stdout.equals(Buffer.alloc(16 * MiB, 7)), 'the snapshot is whole');
  const row = (await dog(['vdi', 'list', '-r', 'dis'])).out.trim().split('\n').at(-1)!.split(' ');
  assert.equal([Number(row[4]), Number(row[5])], [0, 4 * MiB], 'Used and Shared after the discards');
});

test('a hyper volume (-y): a B-tree index written by QEMU and by dog, read through, and its objects removed by delete', async () => {
  await dog(['vdi', 'create', '-y', 'hyp', '5T']);
  const vid = await vidOf('hyp');
  const inode = vidToVdiOid(vid);
  const idxs = [3, 1_000_000, 1_200_000];
  for (const i of idxs) await objectOp(SD_OP.CREATE_AND_WRITE_OBJ, vidToDataOid(vid, i), 0, Buffer.alloc(4096, i & 0xff));
  // the inode header and a depth-1 B-tree root, written from offset 0 as QEMU writes it
  const head = await objectOp(SD_OP.READ_OBJ, inode, 0, undefined, SD_INODE_HEADER_SIZE);
  assert.is(head.readUInt16LE(0), 'hyp'.charCodeAt(0) | ('y'.charCodeAt(0) << 8));
  const root = Buffer.alloc(SD_INODE_HEADER_SIZE + 8 + 8 * idxs.length);
  head.copy(root);
  const empty = await objectOp(SD_OP.READ_OBJ, inode, SD_INODE_HEADER_SIZE, undefined, 8);
  assert.equal([empty.readUInt16LE(0), empty.readUInt16LE(2), empty.readUInt32LE(4)], [0x6274, 1, 0], 'an empty B-tree at creation');
  root.writeUInt16LE(0x6274, SD_INODE_HEADER_SIZE);
  root.writeUInt16LE(1, SD_INODE_HEADER_SIZE + 2);
  root.writeUInt32LE(idxs.length, SD_INODE_HEADER_SIZE + 4);
  idxs.forEach((i, k) => {
    root.writeUInt32LE(i, SD_INODE_HEADER_SIZE + 8 + 8 * k);
    root.writeUInt32LE(vid, SD_INODE_HEADER_SIZE + 12 + 8 * k);
  });
  await objectOp(SD_OP.WRITE_OBJ, inode, 0, root);
  const row = (await dog(['vdi', 'list', '-r', 'hyp'])).out.split(' ');
  assert.is(Number(row[4]), 3 * 4 * MiB, 'Used counts the B-tree entries');
  const map = (await dog(['vdi', 'object', 'map', 'hyp'])).out;
  assert.is(map, `Index       VID\n${idxs.map((i) => `${String(i).padStart(8, '0')} ${vid.toString(16).padStart(8)}`).join('\n')}\n`);
  const r = await dog(['vdi', 'read', 'hyp', String(1_000_000 * 4 * MiB), '8192']);
  assert.ok(r.stdout.equals(Buffer.concat([Buffer.alloc(4096, 1_000_000 & 0xff), Buffer.alloc(4096)])));
  // dog vdi write adds entries to the same tree, here before, between and after the others
  const more: [number, Buffer][] = [[0, Buffer.alloc(4096, 0xa1)], [1_100_000, Buffer.alloc(2 * 4 * MiB, 0xa2)], [1_300_000, Buffer.alloc(100, 0xa3)]];
  for (const [i, d] of more) await dog(['vdi', 'write', 'hyp', String(i * 4 * MiB + 10), String(d.length)], d);
  for (const [i, d] of more) {
    const back = await dog(['vdi', 'read', 'hyp', String(i * 4 * MiB + 10), String(d.length)]);
    assert.ok(back.stdout.equals(d), `hyper volume index ${i} reads back`);
  }
  const all = [0, 3, 1_000_000, 1_100_000, 1_100_001, 1_100_002, 1_200_000, 1_300_000];
  assert.is((await dog(['vdi', 'object', 'map', 'hyp'])).out,
    `Index       VID\n${all.map((i) => `${String(i).padStart(8, '0')} ${vid.toString(16).padStart(8)}`).join('\n')}\n`);
  assert.is((await dog(['vdi', 'check', 'hyp'])).out, 'finish check&repair hyp\n');
  // snapshots and clones of hyper volumes: vdi-hyper-snapshot.test.ts
  await dog(['vdi', 'delete', 'hyp']);
  const prefix = oidHex(vidToDataOid(vid, 0)).slice(0, 8);
  for (let i = 0; i < 3; i++) {
    await waitFor(`hyper volume objects gone from sheep ${i}`, () => !readdirSync(c.objDir(i)).some((n) => n.startsWith(prefix)), 10_000);
  }
  assert.is((await dog(['vdi', 'list', '-r', 'hyp'])).out, '');
});

test.run();
