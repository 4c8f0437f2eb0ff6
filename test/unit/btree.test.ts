/**
 * The hyper volume B-tree (shared/btree.ts) against an in-memory object
 * store: lookups after inserts in any order, the two restructurings (root to
 * depth 2, split of a full leaf), byte layout against nodes built by hand from
 * lib/sd_inode.c's structs, copy of a leaf shared with an ancestor, and a
 * failed write retried with the next change.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BTREE_MAGIC, HyperTree, MAX_INDIRECT_ENTRIES, MAX_LEAF_ENTRIES, type BtreeIo, type BtreeLimits,
} from '../../shared/btree.js';
import { SdError } from '../../shared/errors.js';
import { INODE_OFF } from '../../shared/inode.js';
import { isBtreeObj, SD_INODE_DATA_INDEX_SIZE, SD_INODE_HEADER_SIZE, vidToBtreeOid, vidToVdiOid } from '../../shared/oid.js';
import { SD_RES } from '../../shared/proto/results.js';

const VID = 0xabc;
const SMALL: BtreeLimits = { leaf: 8, indirect: 1000 };

/** Objects as buffers: an inode is its header and data_vdi_id area, a leaf its 4 MiB. */
class Store implements BtreeIo {
  readonly objects = new Map<bigint, Buffer>();
  readonly log: string[] = [];
  failNext = false;

  async read(oid: bigint, length: number, offset: number): Promise<Buffer> {
    const o = this.objects.get(oid);
    if (!o) throw new SdError(SD_RES.NO_OBJ);
    return Buffer.from(o.subarray(offset, offset + length));
  }

  async write(oid: bigint, data: Buffer, offset: number, create: boolean): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.failNext) {
      this.failNext = false;
      throw new SdError(SD_RES.EIO);
    }
    this.log.push(`${create ? 'create' : 'write'} ${oid.toString(16)}@${offset}+${data.length}`);
    let o = this.objects.get(oid);
    if (create || !o) {
      assert.ok(create, `write to missing object ${oid.toString(16)}`);
      o = Buffer.alloc(isBtreeObj(oid) ? SD_INODE_DATA_INDEX_SIZE : SD_INODE_HEADER_SIZE + SD_INODE_DATA_INDEX_SIZE);
      this.objects.set(oid, o);
    }
    data.copy(o, offset);
  }

  inode(vid: number): Buffer {
    let o = this.objects.get(vidToVdiOid(vid));
    if (!o) {
      o = Buffer.alloc(SD_INODE_HEADER_SIZE + SD_INODE_DATA_INDEX_SIZE);
      this.objects.set(vidToVdiOid(vid), o);
    }
    return o;
  }

  /** The tree of vid as stored. */
  load(vid: number, limits = SMALL): Promise<HyperTree> {
    const i = this.inode(vid);
    return HyperTree.load(vid, i.subarray(0, SD_INODE_HEADER_SIZE), i.subarray(SD_INODE_HEADER_SIZE), this, limits);
  }
}

/** A seeded shuffle (mulberry32) so that a failure repeats. */
function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i * 7 + 3);
  let s = seed;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

test('the limits are those of sd_inode.c', () => {
  assert.is(MAX_LEAF_ENTRIES, 524287);
  assert.is(MAX_INDIRECT_ENTRIES, 262143);
});

test('an inode without the magic is an empty tree', async () => {
  const s = new Store();
  const t = await s.load(VID);
  assert.is(t.depth, 1);
  assert.is(t.vidAt(5), 0);
  assert.equal([...t.entries()], []);
});

for (const seed of [1, 2, 3]) {
  test(`inserts in any order (seed ${seed}): every lookup right, in memory and reloaded`, async () => {
    const s = new Store();
    const t = await s.load(VID);
    const idxs = shuffled(300, seed);
    await Promise.all(idxs.map((i) => t.set(i, 0x1000 + i)));
    assert.is(t.depth, 2);
    for (const tree of [t, await s.load(VID)]) {
      for (const i of idxs) assert.is(tree.vidAt(i), 0x1000 + i, `idx ${i}`);
      assert.is(tree.vidAt(1), 0);
      assert.is(tree.vidAt(300 * 7 + 10), 0);
      const e = [...tree.entries()];
      assert.equal(e.map(([i]) => i), [...idxs].sort((a, b) => a - b));
      assert.is(tree.btreeCounter, tree.leafOids().length);
    }
    // every leaf holds at most the limit, and the root's idx is each leaf's largest
    const root = s.inode(VID).subarray(SD_INODE_HEADER_SIZE);
    const n = root.readUInt32LE(4);
    for (let k = 0; k < n; k++) {
      const leaf = s.objects.get(root.readBigUInt64LE(8 + 16 * k + 8))!;
      const entries = leaf.readUInt32LE(4);
      assert.ok(entries >= 1 && entries <= SMALL.leaf);
      assert.is(root.readUInt32LE(8 + 16 * k), leaf.readUInt32LE(8 + 8 * (entries - 1)));
    }
  });
}

test('changes made while earlier ones are being written all reach the store', async () => {
  const s = new Store();
  const t = await s.load(VID, { leaf: 16, indirect: 100 });
  const sets: Promise<void>[] = [];
  // as dog vdi write makes them: in order, each a little after the one before
  for (let i = 0; i < 200; i++) {
    sets.push(t.set(i, VID));
    for (let k = 0; k < i % 3; k++) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(sets);
  const r = await s.load(VID, { leaf: 16, indirect: 100 });
  assert.equal([...r.entries()].map(([i]) => i), Array.from({ length: 200 }, (_, i) => i));
});

test('changing an entry keeps the shape; vid 0 reads as unallocated', async () => {
  const s = new Store();
  const t = await s.load(VID);
  for (let i = 0; i < 20; i++) await t.set(i, 7);
  const leaves = t.leafOids();
  await t.set(5, 9);
  await t.set(6, 0);
  const r = await s.load(VID);
  assert.equal(r.leafOids(), leaves);
  assert.is(r.vidAt(5), 9);
  assert.is(r.vidAt(6), 0);
  assert.not.ok([...r.entries()].some(([i]) => i === 6));
});

/**
 * The layout of lib/sd_inode.c, written by hand: the root in data_vdi_id with
 * two sd_indirect_idx {u32 idx, u32 pad, u64 oid} over leaves of sd_index
 * {u32 idx, u32 vdi_id}, each node starting with sd_index_header
 * {u16 magic, u16 depth, u32 entries}.
 */
function handBuilt(s: Store): void {
  const inode = s.inode(VID);
  inode.writeUInt32LE(2, INODE_OFF.btreeCounter);
  const root = inode.subarray(SD_INODE_HEADER_SIZE);
  root.writeUInt16LE(0x6274, 0);
  root.writeUInt16LE(2, 2);
  root.writeUInt32LE(2, 4);
  root.writeUInt32LE(30, 8);
  root.writeBigUInt64LE(0x10000abc00000000n, 16);
  root.writeUInt32LE(60, 24);
  root.writeBigUInt64LE(0x10000abc00000001n, 32);
  const leaf = (id: number, entries: [number, number][]): void => {
    const b = Buffer.alloc(SD_INODE_DATA_INDEX_SIZE);
    b.writeUInt16LE(0x6274, 0);
    b.writeUInt16LE(1, 2);
    b.writeUInt32LE(entries.length, 4);
    entries.forEach(([i, v], k) => { b.writeUInt32LE(i, 8 + 8 * k); b.writeUInt32LE(v, 12 + 8 * k); });
    s.objects.set(vidToBtreeOid(VID, id), b);
  };
  leaf(0, [[10, VID], [20, 0x5], [30, VID]]);
  leaf(1, [[40, VID], [60, VID]]);
}

test('reads a two-level tree built by hand from the C structs', async () => {
  const s = new Store();
  handBuilt(s);
  const t = await s.load(VID);
  assert.is(t.depth, 2);
  assert.equal(t.leafOids(), [vidToBtreeOid(VID, 0), vidToBtreeOid(VID, 1)]);
  assert.equal([...t.entries()], [[10, VID], [20, 5], [30, VID], [40, VID], [60, VID]]);
  assert.is(t.vidAt(20), 5);
  assert.is(t.vidAt(50), 0);
  assert.is(t.btreeCounter, 2);
});

test('writes the bytes the C code would: append past the last leaf, insert inside one', async () => {
  const s = new Store();
  handBuilt(s);
  const t = await s.load(VID);
  await t.set(70, 0x77); // past every leaf: appended to leaf 1, whose root idx becomes 70
  const leaf1 = vidToBtreeOid(VID, 1).toString(16);
  // the root first, then the appended entry, then the leaf's header: no rewrite of the whole leaf
  assert.equal(s.log, [`write ${vidToVdiOid(VID).toString(16)}@${INODE_OFF.btreeCounter}+${SD_INODE_HEADER_SIZE - INODE_OFF.btreeCounter + 8 + 32}`,
    `write ${leaf1}@24+8`, `write ${leaf1}@0+8`]);
  await t.set(15, 0x66); // inside leaf 0
  const root = s.inode(VID).subarray(SD_INODE_HEADER_SIZE);
  assert.equal([root.readUInt16LE(0), root.readUInt16LE(2), root.readUInt32LE(4)], [BTREE_MAGIC, 2, 2]);
  assert.is(root.readUInt32LE(8), 30);
  assert.is(root.readUInt32LE(24), 70);
  assert.is(root.readBigUInt64LE(32), vidToBtreeOid(VID, 1));
  const l0 = s.objects.get(vidToBtreeOid(VID, 0))!;
  const l1 = s.objects.get(vidToBtreeOid(VID, 1))!;
  assert.is(l0.readUInt32LE(4), 4);
  assert.equal([0, 1, 2, 3].map((k) => [l0.readUInt32LE(8 + 8 * k), l0.readUInt32LE(12 + 8 * k)]),
    [[10, VID], [15, 0x66], [20, 5], [30, VID]]);
  assert.is(l1.readUInt32LE(4), 3);
  assert.equal([l1.readUInt32LE(24), l1.readUInt32LE(28)], [70, 0x77]);
  assert.is(s.inode(VID).readUInt32LE(INODE_OFF.btreeCounter), 2);
  // no write lies wholly inside data_vdi_id (the gateway would take it for flat slots)
  for (const l of s.log.filter((x) => x.startsWith(`write ${vidToVdiOid(VID).toString(16)}@`))) {
    assert.ok(Number(l.split('@')[1]!.split('+')[0]) < SD_INODE_HEADER_SIZE, l);
  }
});

test('a full leaf is split: the new leaf takes the lower half and is filed under its largest idx', async () => {
  const s = new Store();
  handBuilt(s);
  const t = await s.load(VID, { leaf: 3, indirect: 100 });
  await t.set(25, 0x25); // leaf 0 holds 3 of 3: split into [10] (new, id 2) and [20, 30] (+25)
  const root = s.inode(VID).subarray(SD_INODE_HEADER_SIZE);
  assert.is(root.readUInt32LE(4), 3);
  assert.equal([0, 1, 2].map((k) => [root.readUInt32LE(8 + 16 * k), root.readBigUInt64LE(16 + 16 * k)]), [
    [10, vidToBtreeOid(VID, 2)], [30, vidToBtreeOid(VID, 0)], [60, vidToBtreeOid(VID, 1)],
  ]);
  assert.is(s.inode(VID).readUInt32LE(INODE_OFF.btreeCounter), 3);
  const r = await s.load(VID);
  assert.equal([...r.entries()].map(([i]) => i), [10, 20, 25, 30, 40, 60]);
  assert.is(r.vidAt(10), VID);
});

test('a new leaf when the last is full and the idx is past every leaf', async () => {
  const s = new Store();
  handBuilt(s);
  const t = await s.load(VID, { leaf: 2, indirect: 100 });
  await t.set(99, 1);
  assert.equal(t.leafOids(), [vidToBtreeOid(VID, 0), vidToBtreeOid(VID, 1), vidToBtreeOid(VID, 2)]);
  const l2 = s.objects.get(vidToBtreeOid(VID, 2))!;
  assert.equal([l2.readUInt16LE(0), l2.readUInt16LE(2), l2.readUInt32LE(4), l2.readUInt32LE(8), l2.readUInt32LE(12)],
    [BTREE_MAGIC, 1, 1, 99, 1]);
});

test('the root becomes depth 2 at 524287 entries, as transfer_to_idx_root splits it', async () => {
  const s = new Store();
  const t = await s.load(VID, { leaf: MAX_LEAF_ENTRIES, indirect: MAX_INDIRECT_ENTRIES });
  const sets: Promise<void>[] = [];
  for (let i = 0; i < MAX_LEAF_ENTRIES; i++) sets.push(t.set(2 * i, VID));
  await Promise.all(sets);
  assert.is(t.depth, 1);
  assert.is(s.inode(VID).readUInt32LE(SD_INODE_HEADER_SIZE + 4), MAX_LEAF_ENTRIES);
  await t.set(2 * MAX_LEAF_ENTRIES, VID);
  const root = s.inode(VID).subarray(SD_INODE_HEADER_SIZE);
  assert.equal([root.readUInt16LE(2), root.readUInt32LE(4)], [2, 2]);
  const half = Math.floor(MAX_LEAF_ENTRIES / 2);
  assert.equal([root.readUInt32LE(8), root.readBigUInt64LE(16)], [2 * (half - 1), vidToBtreeOid(VID, 0)]);
  assert.equal([root.readUInt32LE(24), root.readBigUInt64LE(32)], [2 * MAX_LEAF_ENTRIES, vidToBtreeOid(VID, 1)]);
  assert.is(s.objects.get(vidToBtreeOid(VID, 0))!.readUInt32LE(4), half);
  assert.is(s.objects.get(vidToBtreeOid(VID, 1))!.readUInt32LE(4), MAX_LEAF_ENTRIES - half + 1);
  const r = await s.load(VID, { leaf: MAX_LEAF_ENTRIES, indirect: MAX_INDIRECT_ENTRIES });
  assert.is(r.vidAt(2 * 1000), VID);
  assert.is(r.vidAt(2 * MAX_LEAF_ENTRIES), VID);
  assert.is(r.vidAt(3), 0);
});

test('a leaf shared with an ancestor is copied before it changes', async () => {
  const s = new Store();
  handBuilt(s);
  const child = 0xabd;
  // a snapshot's child: the root copied into its inode, btree_counter 0
  s.inode(VID).copy(s.inode(child), SD_INODE_HEADER_SIZE, SD_INODE_HEADER_SIZE, SD_INODE_HEADER_SIZE + 8 + 32);
  const before = Buffer.from(s.objects.get(vidToBtreeOid(VID, 1))!);
  const t = await s.load(child);
  await t.set(40, child);
  assert.equal(s.objects.get(vidToBtreeOid(VID, 1)), before);
  assert.equal(t.leafOids(), [vidToBtreeOid(VID, 0), vidToBtreeOid(child, 0)]);
  const r = await s.load(child);
  assert.is(r.vidAt(40), child);
  assert.is(r.vidAt(60), VID);
  assert.is((await s.load(VID)).vidAt(40), VID);
});

test('a failed write fails its change, and the next change writes both', async () => {
  const s = new Store();
  const t = await s.load(VID);
  await t.set(1, 1);
  s.failNext = true;
  await t.set(2, 1).then(() => assert.unreachable('should fail'), (e) => assert.instance(e, SdError));
  await t.set(3, 1);
  assert.equal([...(await s.load(VID)).entries()], [[1, 1], [2, 1], [3, 1]]);
});

test('a full tree refuses with NO_SPACE', async () => {
  const s = new Store();
  const t = await s.load(VID, { leaf: 4, indirect: 2 });
  // 5 entries make two leaves of 2 and 3; the last leaf fills at 6; a third leaf is refused
  for (let i = 0; i < 6; i++) await t.set(i, 1);
  await t.set(100, 1).then(() => assert.unreachable('should fail'), (e) => assert.is((e as SdError).code, SD_RES.NO_SPACE));
  assert.is((await s.load(VID)).vidAt(5), 1);
});

test.run();
