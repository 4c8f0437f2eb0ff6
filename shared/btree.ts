/**
 * The index of a hyper volume (store_policy 1): the B-tree of Sheepdog 1.0's
 * lib/sd_inode.c, same bytes, same insertion algorithm (protocol.md §7.3).
 *
 *   node     = sd_index_header {u16 magic 0x6274, u16 depth, u32 entries} + entries
 *   depth 1  : entries are sd_index {u32 idx, u32 vdi_id}, sorted by idx
 *   depth 2  : entries are sd_indirect_idx {u32 idx, (4 pad), u64 oid}: the
 *              largest idx of a leaf and the leaf's object (vid, VDI_BTREE_BIT, n)
 *
 * The root sits in the inode's data_vdi_id area. It starts as a leaf (depth 1);
 * when that is full its entries are split into two leaf objects and the root
 * becomes depth 2. A full leaf is split in two; an index past every leaf goes
 * into the last leaf, or into a new leaf when that is full. Leaf object ids
 * are numbered by the inode's btree_counter.
 *
 * The whole tree is held in memory (a leaf object holds 524287 entries, 2 TiB
 * of 4 MiB objects), so lookups are synchronous. Changes are applied in memory
 * at once and written in batches, one batch at a time: new leaves first, then
 * the root (with btree_counter), then changed leaves, so that a crash between
 * two writes leaves every acknowledged entry reachable. A change resolves once
 * its batch is written; a failed write is retried with the next batch.
 *
 * Differences from 1.0: its split of a full second-level leaf filed the new
 * leaf under idx 0 (read from past the last entry), losing its entries; here
 * it is filed under its largest idx. And should a tree name a leaf object of
 * another VDI (the sheep gives a snapshot's or clone's child leaves of its own,
 * as 1.0 does, so only a damaged or foreign tree would), that leaf is copied
 * before it changes rather than changed under the other VDI.
 */
import { SdError } from './errors.js';
import { INODE_OFF } from './inode.js';
import { oidToVid, SD_INODE_DATA_INDEX_SIZE, SD_INODE_HEADER_SIZE, vidToBtreeOid, vidToVdiOid } from './oid.js';
import { SD_RES } from './proto/results.js';

export const BTREE_MAGIC = 0x6274;
export const BTREE_HEADER_SIZE = 8;
export const LEAF_ENTRY_SIZE = 8;
export const INDIRECT_ENTRY_SIZE = 16;
/** sd_index entries in one node (MAX_INDEX). */
export const MAX_LEAF_ENTRIES = Math.floor((SD_INODE_DATA_INDEX_SIZE - BTREE_HEADER_SIZE) / LEAF_ENTRY_SIZE);
/** sd_indirect_idx entries in the root (EXT_IDX_MAX_ENTRIES). */
export const MAX_INDIRECT_ENTRIES = Math.floor((SD_INODE_DATA_INDEX_SIZE - BTREE_HEADER_SIZE) / INDIRECT_ENTRY_SIZE);
/** Where a root write starts: btree_counter, then the unused rest of the header (see writeRoot). */
const ROOT_WRITE_FROM = INODE_OFF.btreeCounter;

export interface BtreeLimits {
  /** entries per leaf */
  leaf: number;
  /** leaves under a depth-2 root */
  indirect: number;
}

/**
 * The limits in force: the original's, unless SHEEPDOG_TEST_BTREE_LEAF_ENTRIES
 * (test only: lets a cluster test reach the second level with a few hundred
 * objects instead of half a million) asks for smaller leaves. Trees built with
 * smaller leaves are still valid for every reader, the original's included.
 */
export function btreeLimits(): BtreeLimits {
  const env = Number(process.env.SHEEPDOG_TEST_BTREE_LEAF_ENTRIES);
  const leaf = Number.isInteger(env) && env >= 4 ? Math.min(env, MAX_LEAF_ENTRIES) : MAX_LEAF_ENTRIES;
  return { leaf, indirect: MAX_INDIRECT_ENTRIES };
}

/** Object reads and writes for the tree; failures throw SdError. */
export interface BtreeIo {
  read(oid: bigint, length: number, offset: number): Promise<Buffer>;
  /** create: CREATE_AND_WRITE_OBJ (the object is zero-filled to its full size) */
  write(oid: bigint, data: Buffer, offset: number, create: boolean): Promise<void>;
}

export interface NodeHeader {
  magic: number;
  depth: number;
  entries: number;
}

export function readNodeHeader(buf: Buffer, at = 0): NodeHeader {
  if (buf.length < at + BTREE_HEADER_SIZE) return { magic: 0, depth: 0, entries: 0 };
  return { magic: buf.readUInt16LE(at), depth: buf.readUInt16LE(at + 2), entries: buf.readUInt32LE(at + 4) };
}

/** Bytes of a node that hold its header and used entries (sd_inode_get_meta_size). */
export function nodeUsedBytes(h: NodeHeader): number {
  if (h.magic !== BTREE_MAGIC) return BTREE_HEADER_SIZE;
  return BTREE_HEADER_SIZE + h.entries * (h.depth === 2 ? INDIRECT_ENTRY_SIZE : LEAF_ENTRY_SIZE);
}

/** First position whose value is >= key (nbsearch of the original). */
function lowerBound(a: ArrayLike<number>, n: number, key: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted sd_index entries of one node. */
export class Leaf {
  constructor(public idxs: number[] = [], public vids: number[] = []) {}

  get size(): number {
    return this.idxs.length;
  }

  get last(): number {
    return this.idxs[this.idxs.length - 1]!;
  }

  find(idx: number): number {
    return lowerBound(this.idxs, this.idxs.length, idx);
  }

  static decode(buf: Buffer, at: number, entries: number): Leaf {
    const n = Math.min(entries, Math.floor((buf.length - at - BTREE_HEADER_SIZE) / LEAF_ENTRY_SIZE));
    const l = new Leaf(new Array<number>(n), new Array<number>(n));
    for (let i = 0; i < n; i++) {
      l.idxs[i] = buf.readUInt32LE(at + BTREE_HEADER_SIZE + i * LEAF_ENTRY_SIZE);
      l.vids[i] = buf.readUInt32LE(at + BTREE_HEADER_SIZE + i * LEAF_ENTRY_SIZE + 4);
    }
    return l;
  }

  /** Header and every used entry. */
  encode(): Buffer {
    const b = Buffer.alloc(BTREE_HEADER_SIZE + this.size * LEAF_ENTRY_SIZE);
    writeHeader(b, 1, this.size);
    b.set(this.entryBytes(0, this.size), BTREE_HEADER_SIZE);
    return b;
  }

  /** The header alone. */
  encodeHeader(): Buffer {
    const b = Buffer.alloc(BTREE_HEADER_SIZE);
    writeHeader(b, 1, this.size);
    return b;
  }

  /** Entries [from, to), as they sit in the node after the header. */
  entryBytes(from: number, to: number): Buffer {
    const b = Buffer.alloc((to - from) * LEAF_ENTRY_SIZE);
    for (let i = from; i < to; i++) {
      b.writeUInt32LE(this.idxs[i]!, (i - from) * LEAF_ENTRY_SIZE);
      b.writeUInt32LE(this.vids[i]!, (i - from) * LEAF_ENTRY_SIZE + 4);
    }
    return b;
  }
}

function writeHeader(b: Buffer, depth: number, entries: number): void {
  b.writeUInt16LE(BTREE_MAGIC, 0);
  b.writeUInt16LE(depth, 2);
  b.writeUInt32LE(entries, 4);
}

/** A leaf object under a depth-2 root. */
interface Child {
  /** largest idx the leaf holds (sd_indirect_idx.idx) */
  max: number;
  oid: bigint;
  leaf: Leaf;
}

/** What a leaf object needs written: entries [from, to) changed; `stored` entries were on disk. */
interface LeafChange {
  child: Child;
  from: number;
  to: number;
  stored: number;
}

export class HyperTree {
  /** depth 1: the root's entries; undefined at depth 2 */
  private root: Leaf | undefined = new Leaf();
  /** depth 2: the leaves, sorted by max */
  private children: Child[] = [];
  private created = new Map<bigint, Child>();
  private changed = new Map<bigint, LeafChange>();
  private rootDirty = false;
  private queue: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;

  /**
   * @param head the inode's first SD_INODE_HEADER_SIZE bytes (its btree_counter
   *   and the reserved bytes a root write carries along)
   */
  private constructor(
    readonly vid: number, private readonly head: Buffer, private readonly io: BtreeIo, readonly limits: BtreeLimits,
  ) {}

  /**
   * The tree of inode `vid` from its header and the start of its data_vdi_id
   * area (at least the used bytes of the root; an area without the magic is an
   * empty tree, as sd_inode_get_vid treats it), reading its leaf objects.
   */
  static async load(
    vid: number, head: Buffer, rootArea: Buffer, io: BtreeIo, limits: BtreeLimits = btreeLimits(),
  ): Promise<HyperTree> {
    const t = new HyperTree(vid, Buffer.from(head.subarray(0, SD_INODE_HEADER_SIZE)), io, limits);
    const h = readNodeHeader(rootArea);
    if (h.magic !== BTREE_MAGIC) return t;
    if (h.depth === 1) {
      t.root = Leaf.decode(rootArea, 0, h.entries);
      return t;
    }
    if (h.depth !== 2) throw new SdError(SD_RES.INCOMPLETE, `B-tree of vdi ${vid.toString(16)} has depth ${h.depth}`);
    t.root = undefined;
    const n = Math.min(h.entries, Math.floor((rootArea.length - BTREE_HEADER_SIZE) / INDIRECT_ENTRY_SIZE));
    for (let i = 0; i < n; i++) {
      const at = BTREE_HEADER_SIZE + i * INDIRECT_ENTRY_SIZE;
      const oid = rootArea.readBigUInt64LE(at + 8);
      t.children.push({ max: rootArea.readUInt32LE(at), oid, leaf: await readLeaf(io, oid) });
    }
    return t;
  }

  get depth(): number {
    return this.root ? 1 : 2;
  }

  get btreeCounter(): number {
    return this.head.readUInt32LE(INODE_OFF.btreeCounter);
  }

  /** The leaf objects of a depth-2 tree, in index order. */
  leafOids(): bigint[] {
    return this.children.map((c) => c.oid);
  }

  /** The vid whose object holds index idx; 0 when unallocated. */
  vidAt(idx: number): number {
    const leaf = this.root ?? this.children[this.childFor(idx)]?.leaf;
    if (!leaf) return 0;
    const i = leaf.find(idx);
    return leaf.idxs[i] === idx ? leaf.vids[i]! : 0;
  }

  /** The first child whose max is >= idx (children.length when none). */
  private childFor(idx: number): number {
    let lo = 0, hi = this.children.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.children[mid]!.max < idx) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Every entry with a vid, as [idx, vid], in index order. */
  *entries(): Generator<[number, number]> {
    for (const leaf of this.root ? [this.root] : this.children.map((c) => c.leaf)) {
      for (let i = 0; i < leaf.size; i++) if (leaf.vids[i] !== 0) yield [leaf.idxs[i]!, leaf.vids[i]!];
    }
  }

  /** The data_vdi_id area as it is in memory: header and used entries. */
  rootImage(): Buffer {
    if (this.root) return this.root.encode();
    const b = Buffer.alloc(BTREE_HEADER_SIZE + this.children.length * INDIRECT_ENTRY_SIZE);
    writeHeader(b, 2, this.children.length);
    this.children.forEach((c, i) => {
      b.writeUInt32LE(c.max, BTREE_HEADER_SIZE + i * INDIRECT_ENTRY_SIZE);
      b.writeBigUInt64LE(c.oid, BTREE_HEADER_SIZE + i * INDIRECT_ENTRY_SIZE + 8);
    });
    return b;
  }

  /**
   * Point idx at vid (sd_inode_set_vid): in memory at once, on disk when the
   * returned promise resolves. Changes are written in the order they are made.
   */
  set(idx: number, vid: number): Promise<void> {
    try {
      this.apply(idx, vid);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** Write what changed, a batch at a time, until nothing is waiting. */
  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.flushChanges();
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    this.writing = false;
  }

  /**
   * Each change record leaves its map before its write is awaited, with the
   * bytes taken at that moment: a change made while the write is under way
   * starts a record of its own (from what this write stores) for the next
   * batch. A failed write puts its record back.
   */
  private async flushChanges(): Promise<void> {
    for (const [oid, c] of this.created) {
      this.created.delete(oid);
      this.changed.delete(oid);
      try {
        await this.io.write(oid, c.leaf.encode(), 0, true);
      } catch (e) {
        this.created.set(oid, c);
        this.changed.delete(oid);
        throw e;
      }
    }
    if (this.rootDirty) {
      this.rootDirty = false;
      try {
        await this.writeRoot();
      } catch (e) {
        this.rootDirty = true;
        throw e;
      }
    }
    for (const [oid, ch] of this.changed) {
      this.changed.delete(oid);
      try {
        for (const w of this.leafWrites(ch)) await this.io.write(oid, w.data, w.offset, false);
      } catch (e) {
        const later = this.changed.get(oid);
        this.changed.set(oid, later
          ? { child: ch.child, from: Math.min(ch.from, later.from), to: Math.max(ch.to, later.to), stored: ch.stored }
          : ch);
        throw e;
      }
    }
  }

  /**
   * The root goes with the header bytes from btree_counter on: a write lying
   * wholly in data_vdi_id is taken by the gateway for flat index slots whose
   * references it drops, and the counter must be stored with the leaves it named.
   */
  private async writeRoot(): Promise<void> {
    const prefix = this.head.subarray(ROOT_WRITE_FROM, SD_INODE_HEADER_SIZE);
    await this.io.write(vidToVdiOid(this.vid), Buffer.concat([prefix, this.rootImage()]), ROOT_WRITE_FROM, false);
  }

  /**
   * The writes of a leaf change, their bytes taken now: an append (or a change
   * of vids) writes the changed entries, then the header; an insert that moved
   * stored entries rewrites the used part whole.
   */
  private leafWrites(ch: LeafChange): { data: Buffer; offset: number }[] {
    const leaf = ch.child.leaf;
    const to = Math.min(ch.to, leaf.size);
    if (leaf.size !== ch.stored && ch.from < ch.stored) return [{ data: leaf.encode(), offset: 0 }];
    const writes: { data: Buffer; offset: number }[] = [];
    if (ch.from < to) writes.push({ data: leaf.entryBytes(ch.from, to), offset: BTREE_HEADER_SIZE + ch.from * LEAF_ENTRY_SIZE });
    if (leaf.size !== ch.stored) writes.push({ data: leaf.encodeHeader(), offset: 0 });
    return writes;
  }

  private newLeafOid(): bigint {
    const n = this.btreeCounter;
    this.head.writeUInt32LE(n + 1, INODE_OFF.btreeCounter);
    this.rootDirty = true;
    return vidToBtreeOid(this.vid, n);
  }

  private addChild(at: number, leaf: Leaf): Child {
    const c: Child = { max: leaf.last, oid: this.newLeafOid(), leaf };
    this.children.splice(at, 0, c);
    this.created.set(c.oid, c);
    return c;
  }

  /** Note entries [from, to) of a child's leaf as changed; it held `before` entries until now. */
  private touch(c: Child, from: number, to: number, before: number): void {
    if (this.created.has(c.oid)) return;
    const ch = this.changed.get(c.oid);
    if (ch) {
      ch.from = Math.min(ch.from, from);
      ch.to = Math.max(ch.to, to);
    } else {
      this.changed.set(c.oid, { child: c, from, to, stored: before });
    }
  }

  /** The child at position i, made this VDI's own (copied) if an ancestor owns its leaf. */
  private own(i: number): Child {
    const c = this.children[i]!;
    if (oidToVid(c.oid) === this.vid) return c;
    this.changed.delete(c.oid);
    const copy: Child = { max: c.max, oid: this.newLeafOid(), leaf: new Leaf([...c.leaf.idxs], [...c.leaf.vids]) };
    this.children[i] = copy;
    this.created.set(copy.oid, copy);
    return copy;
  }

  /** set_vid_for_btree: find idx, then update, insert, or restructure and try again. */
  private apply(idx: number, vid: number): void {
    for (;;) {
      if (this.root) {
        const r = this.root;
        const i = r.find(idx);
        if (r.idxs[i] === idx) {
          r.vids[i] = vid;
        } else if (r.size >= this.limits.leaf) {
          this.transferToIdxRoot();
          continue;
        } else {
          r.idxs.splice(i, 0, idx);
          r.vids.splice(i, 0, vid);
        }
        this.rootDirty = true;
        return;
      }
      const n = this.children.length;
      const ci = this.childFor(idx);
      if (ci < n) {
        const c = this.own(ci);
        const i = c.leaf.find(idx);
        if (c.leaf.idxs[i] === idx) {
          c.leaf.vids[i] = vid;
          this.touch(c, i, i + 1, c.leaf.size);
          return;
        }
        if (c.leaf.size >= this.limits.leaf) {
          this.splitLeaf(ci);
          continue;
        }
        c.leaf.idxs.splice(i, 0, idx);
        c.leaf.vids.splice(i, 0, vid);
        this.touch(c, i, c.leaf.size, c.leaf.size - 1);
        return;
      }
      if (n > 0 && this.children[n - 1]!.leaf.size < this.limits.leaf) {
        // past every leaf: the last one takes it and its max grows
        const c = this.own(n - 1);
        c.leaf.idxs.push(idx);
        c.leaf.vids.push(vid);
        c.max = idx;
        this.touch(c, c.leaf.size - 1, c.leaf.size, c.leaf.size - 1);
        this.rootDirty = true;
        return;
      }
      if (n >= this.limits.indirect) throw new SdError(SD_RES.NO_SPACE, `B-tree of vdi ${this.vid.toString(16)} is full`);
      this.addChild(n, new Leaf([idx], [vid]));
      return;
    }
  }

  /** The full root leaf becomes two leaf objects under a depth-2 root. */
  private transferToIdxRoot(): void {
    const r = this.root!;
    const num = Math.floor(r.size / 2);
    this.root = undefined;
    this.children = [];
    this.addChild(0, new Leaf(r.idxs.slice(0, num), r.vids.slice(0, num)));
    this.addChild(1, new Leaf(r.idxs.slice(num), r.vids.slice(num)));
    this.rootDirty = true;
  }

  /** A full leaf gives its lower half to a new leaf filed before it. */
  private splitLeaf(ci: number): void {
    const c = this.own(ci);
    const num = Math.floor(c.leaf.size / 2);
    const before = c.leaf.size;
    const left = new Leaf(c.leaf.idxs.splice(0, num), c.leaf.vids.splice(0, num));
    this.touch(c, 0, c.leaf.size, before);
    this.addChild(ci, left);
  }
}

/** A leaf object's header and used entries. */
async function readLeaf(io: BtreeIo, oid: bigint): Promise<Leaf> {
  const head = await io.read(oid, BTREE_HEADER_SIZE, 0);
  const h = readNodeHeader(head);
  if (h.magic !== BTREE_MAGIC || h.depth !== 1) {
    throw new SdError(SD_RES.INCOMPLETE, `B-tree object ${oid.toString(16)} is not a leaf`);
  }
  if (h.entries === 0) return new Leaf();
  return Leaf.decode(await io.read(oid, nodeUsedBytes(h), 0), 0, h.entries);
}
