/**
 * Erasure-coded VDIs do what replicated ones do, with real processes on 6
 * sheep and `-c 4:2` VDIs: copy-on-write history (snapshot by id and tag,
 * clone, rollback; sha256 over whole volumes), `vdi check` rebuilding a strip
 * file removed and one corrupted on disk (the files come back equal to what
 * the codec computes), and a sheepfs volume of an EC VDI read and written
 * with ordinary tools against `dog vdi read`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SheepConnection } from '../../shared/client.js';
import { ecCode, encodeStripes } from '../../shared/ec/code.js';
import { decodeNodes, type SdNode } from '../../shared/node.js';
import { oidHex, vidToDataOid } from '../../shared/oid.js';
import { VnodeRing } from '../../shared/placement.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { TestCluster, type RunResult } from '../lib/cluster.js';
import { sha } from '../lib/recovery.js';
import { mountSheepfs, sh, type Mount } from './lib.js';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const SIZE = 16 * MiB;
const NODES = 6;
const code = ecCode(4, 2);
let c: TestCluster;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-ec-'));

const dog = (args: string[], input?: Buffer): Promise<RunResult> => c.dogOk(args, { input });

async function volumeSha(args: string[]): Promise<string> {
  const r = await dog(['vdi', 'read', ...args]);
  assert.is(r.stdout.length, SIZE, `vdi read ${args.join(' ')} length`);
  return sha(r.stdout);
}

/** `vdi list -r` rows of one name: [flag, snapid, vid, copies, tag]. */
async function rows(name: string): Promise<[string, number, number, string, string][]> {
  const out = (await dog(['vdi', 'list', '-r', name])).out.trim().split('\n');
  return out.map((l) => {
    const f = l.split(' ');
    return [f[0]!, Number(f[2]), parseInt(f[7]!, 16), f[8]!, f[9] ?? ''];
  });
}

async function nodeList(): Promise<SdNode[]> {
  const conn = await SheepConnection.connect({ host: '127.0.0.1', port: c.port(0) }, 2000);
  try {
    const r = await conn.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, 80 * 64), undefined, 5000);
    return decodeNodes(r.data, r.hdr.rspNrNodes);
  } finally {
    conn.close();
  }
}

/** The file of strip j of oid: on the sheep the ring makes its j-th holder. */
async function stripFiles(oid: bigint): Promise<string[]> {
  const ring = new VnodeRing(await nodeList());
  const holders = ring.holders(oid, code.total);
  assert.is(holders.length, code.total);
  return holders.map((n, j) => join(c.objDir(c.ports.indexOf(n.port)), `${oidHex(oid)}_${j}`));
}

test.before(async () => {
  c = await TestCluster.start({ nodes: NODES, copies: 3 });
});

test.after(async () => {
  await c?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('snapshot, clone and rollback of a 4:2 VDI read what they held, by id and by tag', async () => {
  const A = randomBytes(SIZE);
  await dog(['vdi', 'create', '-c', '4:2', 'ec', String(SIZE)]);
  await dog(['vdi', 'write', 'ec'], A);
  await dog(['vdi', 'snapshot', '-s', 'first', 'ec']);
  // B: unaligned to stripes and objects, over three objects
  const B = Buffer.from(A);
  const piece = randomBytes(6 * MiB + 1001);
  piece.copy(B, 3 * MiB + 333);
  await dog(['vdi', 'write', 'ec', String(3 * MiB + 333), String(piece.length)], piece);
  await dog(['vdi', 'clone', '-s', 'first', 'ec', 'ecl']);

  assert.is(await volumeSha(['ec']), sha(B), 'live reads B');
  for (const sel of ['1', 'first']) assert.is(await volumeSha(['-s', sel, 'ec']), sha(A), `-s ${sel} reads A`);
  assert.is(await volumeSha(['ecl']), sha(A), 'the clone reads A');
  // snapshot and clone keep the policy
  assert.equal((await rows('ec')).map((r) => [r[0], r[1], r[3], r[4]]), [['s', 1, '4:2', 'first'], ['=', 0, '4:2', '']]);
  assert.equal((await rows('ecl')).map((r) => [r[0], r[3]]), [['c', '4:2']]);

  // the clone takes writes copy-on-write; the snapshot and the live VDI stay
  const D = Buffer.from(A);
  const dpiece = randomBytes(2 * MiB + 77);
  dpiece.copy(D, 7 * MiB - 5);
  await dog(['vdi', 'write', 'ecl', String(7 * MiB - 5), String(dpiece.length)], dpiece);
  assert.is(await volumeSha(['ecl']), sha(D), 'the clone reads its write');
  assert.is(await volumeSha(['-s', 'first', 'ec']), sha(A), 'the snapshot still reads A');
  assert.is(await volumeSha(['ec']), sha(B), 'the live VDI still reads B');

  await dog(['vdi', 'rollback', '-f', '-s', 'first', 'ec']);
  assert.is(await volumeSha(['ec']), sha(A), 'rolled back to A');
  assert.is(await volumeSha(['-s', 'first', 'ec']), sha(A));
  assert.is(await volumeSha(['ecl']), sha(D), 'the clone is untouched by the rollback');
});

let chkData: Buffer;

test('vdi check rebuilds a strip removed and a strip corrupted on disk, as the codec computes them', async () => {
  chkData = randomBytes(SIZE);
  await dog(['vdi', 'create', '-c', '4:2', 'chk', String(SIZE)]);
  await dog(['vdi', 'write', 'chk'], chkData);
  const vid = (await rows('chk'))[0]![2];
  const removed = vidToDataOid(vid, 1);
  const corrupted = vidToDataOid(vid, 2);
  // a clean check first: nothing to fix
  assert.is((await dog(['vdi', 'check', 'chk'])).out, 'finish check&repair chk\n');

  // behind the cluster's back, after the sheep have opened the files (the check read them):
  // data strip 0 of object 1 gone, data strip 2 of object 2 damaged in place
  const rm = (await stripFiles(removed))[0]!;
  rmSync(rm);
  const bad = (await stripFiles(corrupted))[2]!;
  const damaged = readFileSync(bad);
  damaged.fill(0xee, 1000, 70_000);
  writeFileSync(bad, damaged);
  const before = await dog(['vdi', 'read', 'chk']);
  assert.is.not(sha(before.stdout), sha(chkData), 'the damaged data strip shows in reads');

  const r = await dog(['vdi', 'check', 'chk']);
  assert.is(r.out.split('\n').filter(Boolean).sort().join('\n'), [
    `fixed missing ${removed.toString(16)}, copy index 0`,
    `fixed replica ${corrupted.toString(16)}, copy index 2`,
    'finish check&repair chk',
  ].sort().join('\n'), `${r.out}${r.stderr}`);
  assert.ok(r.out.endsWith('finish check&repair chk\n'));

  // every strip of every object is on its holder and equal to the encoding of the data
  for (let idx = 0; idx < SIZE / OBJ; idx++) {
    const oid = vidToDataOid(vid, idx);
    const want = encodeStripes(chkData.subarray(idx * OBJ, (idx + 1) * OBJ), code);
    for (const [j, f] of (await stripFiles(oid)).entries()) {
      assert.ok(existsSync(f), `strip ${j} of ${oidHex(oid)} at ${f}`);
      assert.ok(readFileSync(f).equals(want[j]!), `strip ${j} of ${oidHex(oid)} as the codec computes it`);
    }
  }
  assert.is(await volumeSha(['chk']), sha(chkData), 'the volume reads its data again');
  assert.is((await dog(['vdi', 'check', 'chk'])).out, 'finish check&repair chk\n', 'a second pass finds nothing');
});

test('more strips missing than parity: reported as the original, exit 0, nothing written', async () => {
  await dog(['vdi', 'create', '-c', '4:2', 'lost', String(OBJ)]);
  await dog(['vdi', 'write', 'lost'], randomBytes(OBJ));
  const oid = vidToDataOid((await rows('lost'))[0]![2], 0);
  const files = await stripFiles(oid);
  for (const f of files.slice(0, 3)) rmSync(f);
  const r = await c.dog(['vdi', 'check', 'lost']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.out, 'finish check&repair lost\n');
  assert.match(r.stderr, `failed to rebuild object ${oid.toString(16)}. 3 copies get lost, more than 2`);
  assert.ok(files.slice(0, 3).every((f) => !existsSync(f)), 'nothing written');
  assert.ok(files.slice(3).every((f) => existsSync(f)), 'nothing removed');
});

test('a sheepfs volume of a 4:2 VDI reads as dog vdi read, and a write through it reads back through dog', async () => {
  const mnt = join(dir, 'mnt');
  let m: Mount | undefined;
  try {
    m = await mountSheepfs(mnt, c.port(0));
    const vol = join(mnt, 'vdi', 'chk', 'volume');
    assert.ok(readdirSync(join(mnt, 'vdi')).includes('chk'));
    assert.is(statSync(vol).size, SIZE);
    const cat = await sh(`cat ${vol} | sha256sum`);
    assert.is(cat.code, 0, cat.stderr);
    const dd = await sh(`dd if=${vol} bs=1M status=none | sha256sum`);
    assert.is(dd.code, 0, dd.stderr);
    const want = await volumeSha(['chk']);
    assert.is(cat.out.split(' ')[0], want, 'cat of the volume');
    assert.is(dd.out.split(' ')[0], want, 'dd of the volume');

    // a write at an offset unaligned to stripes and objects, across an object boundary
    const piece = randomBytes(MiB + 4321);
    const at = 2 * OBJ - 700_001;
    const fd = openSync(vol, 'r+');
    try {
      assert.is(writeSync(fd, piece, 0, piece.length, at), piece.length);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const model = (await dog(['vdi', 'read', 'chk'])).stdout;
    const expect = Buffer.from(chkData);
    piece.copy(expect, at);
    assert.is(sha(model), sha(expect), 'dog reads what was written through the mount');
    const again = await sh(`dd if=${vol} bs=1M status=none iflag=direct | sha256sum`);
    assert.is(again.out.split(' ')[0], sha(expect), 'and so does the volume, with O_DIRECT');
    await m.stop();
    m = undefined;
  } finally {
    await m?.cleanup();
  }
});

test.run();
