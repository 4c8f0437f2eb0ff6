/**
 * Copy-on-write history of one volume, checked by sha256 over whole volumes:
 * write A, snapshot, write B, snapshot, write C; every snapshot reads what it
 * held by id and by tag; a clone of the first snapshot reads A and takes
 * writes without touching the snapshot; rollback returns the live VDI to a
 * snapshot. `vdi list` Used/Shared follow the original's arithmetic (objects
 * whose index entry is the VDI's own vid, and the other allocated entries),
 * worked out here from a model of which VDI owns which object.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SheepConnection } from '../../shared/client.js';
import { oidHex, vidToDataOid } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { TestCluster, waitFor, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const SIZE = 32 * MiB;
const SLOTS = SIZE / OBJ;
let c: TestCluster;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

async function volumeSha(args: string[]): Promise<string> {
  const r = await dog(['vdi', 'read', ...args]);
  assert.is(r.stdout.length, SIZE, `vdi read ${args.join(' ')} length`);
  return sha(r.stdout);
}

/** The model of one VDI: its bytes and, per slot, the name of the VDI that wrote the object ('' = none). */
interface Model { data: Buffer; owner: string[]; }
const models = new Map<string, Model>();
const fresh = (): Model => ({ data: Buffer.alloc(SIZE), owner: Array<string>(SLOTS).fill('') });
const copyOf = (m: Model): Model => ({ data: Buffer.from(m.data), owner: [...m.owner] });

async function write(vdi: string, key: string, off: number, data: Buffer): Promise<void> {
  await dog(['vdi', 'write', vdi, String(off), String(data.length)], data);
  const m = models.get(key)!;
  data.copy(m.data, off);
  for (let i = Math.floor(off / OBJ); i <= Math.floor((off + data.length - 1) / OBJ); i++) m.owner[i] = key;
}

interface Row { flag: string; name: string; snapid: number; used: number; shared: number; vid: number; tag: string }

/** `vdi list -r` rows: flag name snapid size used shared ctime vid copies tag shift. */
function rows(out: string): Row[] {
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const f = l.split(' ');
    return { flag: f[0]!, name: f[1]!, snapid: Number(f[2]), used: Number(f[4]), shared: Number(f[5]),
      vid: parseInt(f[7]!, 16), tag: f[9]! };
  });
}

/** Used and Shared as the original computes them for the VDI modelled under `key`. */
function usage(key: string): { used: number; shared: number } {
  const m = models.get(key)!;
  const used = m.owner.filter((o) => o === key).length * OBJ;
  const shared = m.owner.filter((o) => o !== '' && o !== key).length * OBJ;
  return { used, shared };
}

/** Data object files of `vid` on sheep i. */
function dataObjs(i: number, vid: number): string[] {
  const prefix = oidHex(vidToDataOid(vid, 0)).slice(0, 8);
  return readdirSync(c.objDir(i)).filter((n) => n.startsWith(prefix) && !n.endsWith('.tmp'));
}

const A = randomBytes(SIZE);
const B = randomBytes(12 * MiB);
const C1 = randomBytes(4096);
const C2 = randomBytes(MiB + 123);
const D = randomBytes(3 * MiB);

test.before(async () => {
  c = await TestCluster.start({ nodes: 3, copies: 3 });
  await dog(['vdi', 'create', 'v', String(SIZE)]);
});

test.after(async () => {
  await c?.cleanup();
});

test('write A, snapshot, write B, snapshot, write C: live and both snapshots read right, by id and by tag', async () => {
  models.set('v1', fresh());
  await write('v', 'v1', 0, A);
  await dog(['vdi', 'snapshot', '-s', 'first', 'v']);
  models.set('v2', copyOf(models.get('v1')!));
  await write('v', 'v2', 6 * MiB, B);
  await dog(['vdi', 'snapshot', '-s', 'second', 'v']);
  models.set('v3', copyOf(models.get('v2')!));
  await write('v', 'v3', 0, C1);
  await write('v', 'v3', 30 * MiB + 123, C2.subarray(0, 2 * MiB - 123));

  assert.is(await volumeSha(['v']), sha(models.get('v3')!.data), 'live reads C');
  for (const sel of ['1', 'first']) assert.is(await volumeSha(['-s', sel, 'v']), sha(A), `-s ${sel} reads A`);
  for (const sel of ['2', 'second']) assert.is(await volumeSha(['-s', sel, 'v']), sha(models.get('v2')!.data), `-s ${sel} reads B`);
  // a partial read of a snapshot through another gateway
  const part = await c.dog(['vdi', 'read', '-s', 'second', 'v', String(6 * MiB - 10), '20'], { port: c.port(2) });
  assert.is(part.code, 0, part.stderr);
  assert.ok(part.stdout.equals(models.get('v2')!.data.subarray(6 * MiB - 10, 6 * MiB + 10)));
});

test('vdi list: s flags, snapshot ids, tags, and Used/Shared of the original arithmetic', async () => {
  const list = rows((await dog(['vdi', 'list', '-r'])).out);
  assert.equal(list.map((r) => [r.flag, r.name, r.snapid, r.tag]), [
    ['s', 'v', 1, 'first'], ['s', 'v', 2, 'second'], ['=', 'v', 0, ''],
  ]);
  for (const [i, key] of ['v1', 'v2', 'v3'].entries()) {
    const u = usage(key);
    assert.equal({ used: list[i]!.used, shared: list[i]!.shared }, u, `${key} used/shared`);
  }
  // 8 own objects, then 4 own + 4 inherited, then 2 own + 6 inherited
  assert.equal(list.map((r) => r.used / OBJ), [8, 4, 2]);
  assert.equal(list.map((r) => r.shared / OBJ), [0, 4, 6]);
});

test("a write to a snapshot's object is refused (READONLY) and changes nothing", async () => {
  const snap = rows((await dog(['vdi', 'list', '-r', 'v'])).out)[0]!;
  const conn = await SheepConnection.connect({ host: '127.0.0.1', port: c.port(1) }, 5000);
  try {
    const h = SdHeader.request(SD_OP.WRITE_OBJ, SD_FLAG.CMD_WRITE, 4096);
    h.objOid = vidToDataOid(snap.vid, 0);
    const r = await conn.request(h, Buffer.alloc(4096, 0x55), 10_000);
    assert.is(r.hdr.result, SD_RES.READONLY);
  } finally {
    conn.close();
  }
  assert.is(await volumeSha(['-s', 'first', 'v']), sha(A));
});

test('a clone of the first snapshot reads A, takes writes, and leaves the snapshot alone', async () => {
  await dog(['vdi', 'clone', '-s', 'first', 'v', 'cl']);
  models.set('cl', { data: Buffer.from(A), owner: Array<string>(SLOTS).fill('v1') });
  assert.is(await volumeSha(['cl']), sha(A));
  await write('cl', 'cl', 9 * MiB + 7, D);
  assert.is(await volumeSha(['cl']), sha(models.get('cl')!.data));
  assert.is(await volumeSha(['-s', 'first', 'v']), sha(A), 'the snapshot still reads A');
  assert.is(await volumeSha(['v']), sha(models.get('v3')!.data), 'the live VDI is untouched');
  const row = rows((await dog(['vdi', 'list', '-r', 'cl'])).out);
  assert.is(row.length, 1);
  assert.is(row[0]!.flag, 'c');
  assert.equal({ used: row[0]!.used, shared: row[0]!.shared }, usage('cl'));
});

test('rollback returns the live VDI to a snapshot and frees what only the old working VDI held', async () => {
  const old = rows((await dog(['vdi', 'list', '-r', 'v'])).out).find((r) => r.snapid === 0)!;
  assert.ok(dataObjs(0, old.vid).length > 0, 'the working VDI owns objects before the rollback');
  const r = await dog(['vdi', 'rollback', '-f', '-v', '-s', 'second', 'v']);
  assert.match(r.out, /^New VDI ID of rollbacked VDI: [0-9a-f]+\n$/);
  models.set('v4', { data: Buffer.from(models.get('v2')!.data), owner: [...models.get('v2')!.owner] });
  assert.is(await volumeSha(['v']), sha(models.get('v2')!.data), 'live reads B again');
  assert.is(await volumeSha(['-s', 'second', 'v']), sha(models.get('v2')!.data));
  assert.is(await volumeSha(['-s', 'first', 'v']), sha(A));
  assert.is(await volumeSha(['cl']), sha(models.get('cl')!.data));
  for (let i = 0; i < 3; i++) {
    await waitFor(`the old working VDI's objects to go from sheep ${i}`, () => dataObjs(i, old.vid).length === 0, 10_000);
  }
  const list = rows((await dog(['vdi', 'list', '-r', 'v'])).out);
  assert.equal(list.map((x) => [x.flag, x.snapid, x.tag]), [['s', 1, 'first'], ['s', 2, 'second'], ['=', 0, '']]);
  assert.equal({ used: list[2]!.used, shared: list[2]!.shared }, { used: 0, shared: 8 * OBJ });
  // the rolled-back VDI takes writes copy-on-write, leaving the snapshot as it was
  await write('v', 'v4', 31 * MiB, randomBytes(MiB));
  assert.is(await volumeSha(['v']), sha(models.get('v4')!.data));
  assert.is(await volumeSha(['-s', 'second', 'v']), sha(models.get('v2')!.data));
});

test('tree and graph show the family: the rolled-back VDI hangs under the second snapshot', async () => {
  const tree = (await dog(['vdi', 'tree'])).out.replace(/\[\d{4}-\d\d-\d\d \d\d:\d\d\]/g, '[DATE]');
  assert.is(tree, 'v---[DATE]---[DATE]---(you are here)\ncl---(you are here)\n');
  const list = rows((await dog(['vdi', 'list', '-r'])).out);
  const vid = (name: string, snapid: number) => list.find((r) => r.name === name && r.snapid === snapid)!.vid.toString(16);
  const graph = (await dog(['vdi', 'graph'])).out;
  const edges = [...graph.matchAll(/"([0-9a-f]+)" -> "([0-9a-f]+)";/g)].map((m) => `${m[1]}>${m[2]}`);
  assert.equal(edges, [`0>${vid('v', 1)}`, `${vid('v', 1)}>${vid('v', 2)}`, `${vid('v', 2)}>${vid('v', 0)}`,
    `${vid('v', 1)}>${vid('cl', 0)}`].sort((a, b) => parseInt(a.split('>')[1]!, 16) - parseInt(b.split('>')[1]!, 16)));
  assert.ok(graph.endsWith('}\n'));
});

test('object map lists each allocated index with the vid that owns it', async () => {
  const list = rows((await dog(['vdi', 'list', '-r', 'v'])).out);
  const own: Record<string, number> = { v1: list[0]!.vid, v2: list[1]!.vid, v4: list[2]!.vid };
  const m = models.get('v4')!;
  const expected = ['Index       VID', ...m.owner.map((o, i) => `${String(i).padStart(8, '0')} ${own[o]!.toString(16).padStart(8)}`)];
  assert.is((await dog(['vdi', 'object', 'map', 'v'])).out, `${expected.join('\n')}\n`);
  const one = await dog(['vdi', 'object', 'map', '-i', '7', '-s', 'first', 'v']);
  assert.is(one.out, `Index       VID\n00000007 ${own.v1!.toString(16).padStart(8)}\n`);
});

test.run();
