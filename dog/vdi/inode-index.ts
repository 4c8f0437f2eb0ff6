/**
 * data_vdi_id: which VDI owns data object i. A flat VDI keeps it as an array
 * in the inode; a hyper volume (store_policy 1) keeps a B-tree whose root sits
 * in the same area (protocol.md §7.3). Both answer the same questions here.
 */
import { isBtreeObj, SD_INODE_HEADER_SIZE } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { readObject } from '../object-io.js';

export const BTREE_MAGIC = 0x6274;
export const INDEX_HEADER_SIZE = 8;
const LEAF_ENTRY = 8;
const INDIRECT_ENTRY = 16;

export interface InodeIndex {
  /** the owner vid of slot idx, 0 when unallocated */
  vidAt(idx: number): number;
  /** every allocated slot as [idx, vid], in index order */
  entries(): Iterable<[number, number]>;
}

/** The flat index: u32 slots starting at `at` in `buf`, `count` of them readable. */
export class FlatIndex implements InodeIndex {
  private readonly slots: Uint32Array;

  constructor(buf: Buffer, at: number, count: number) {
    const n = Math.max(0, Math.min(count, Math.floor((buf.length - at) / 4)));
    if ((buf.byteOffset + at) % 4 === 0) {
      this.slots = new Uint32Array(buf.buffer, buf.byteOffset + at, n);
    } else {
      this.slots = new Uint32Array(n);
      for (let i = 0; i < n; i++) this.slots[i] = buf.readUInt32LE(at + 4 * i);
    }
  }

  vidAt(idx: number): number {
    return idx < this.slots.length ? this.slots[idx]! : 0;
  }

  set(idx: number, vid: number): void {
    if (idx < this.slots.length) this.slots[idx] = vid;
  }

  get length(): number {
    return this.slots.length;
  }

  *entries(): Iterable<[number, number]> {
    const s = this.slots;
    for (let i = 0; i < s.length; i++) if (s[i] !== 0) yield [i, s[i]!];
  }
}

/** A hyper volume's B-tree, flattened into sorted (idx, vid) arrays. */
export class HyperIndex implements InodeIndex {
  constructor(readonly idxs: Uint32Array, readonly vids: Uint32Array) {}

  vidAt(idx: number): number {
    let lo = 0, hi = this.idxs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.idxs[mid]! < idx) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.idxs.length && this.idxs[lo] === idx ? this.vids[lo]! : 0;
  }

  *entries(): Iterable<[number, number]> {
    for (let i = 0; i < this.idxs.length; i++) if (this.vids[i] !== 0) yield [this.idxs[i]!, this.vids[i]!];
  }
}

export interface BtreeHeader {
  magic: number;
  depth: number;
  entries: number;
}

export function readBtreeHeader(buf: Buffer, at: number): BtreeHeader {
  if (buf.length < at + INDEX_HEADER_SIZE) return { magic: 0, depth: 0, entries: 0 };
  return { magic: buf.readUInt16LE(at), depth: buf.readUInt16LE(at + 2), entries: buf.readUInt32LE(at + 4) };
}

/** Bytes of the B-tree root that hold used entries (header included). */
export function btreeRootUsedBytes(h: BtreeHeader): number {
  if (h.magic !== BTREE_MAGIC) return INDEX_HEADER_SIZE;
  return INDEX_HEADER_SIZE + h.entries * (h.depth === 2 ? INDIRECT_ENTRY : LEAF_ENTRY);
}

function leafEntries(buf: Buffer, at: number, count: number, idxs: number[], vids: number[]): void {
  const n = Math.min(count, Math.floor((buf.length - at) / LEAF_ENTRY));
  for (let i = 0; i < n; i++) {
    idxs.push(buf.readUInt32LE(at + i * LEAF_ENTRY));
    vids.push(buf.readUInt32LE(at + i * LEAF_ENTRY + 4));
  }
}

/**
 * Load a hyper volume's index from the root in `root` (the data_vdi_id area,
 * starting at `at`), reading the leaf objects of a depth-2 tree. undefined when
 * a leaf cannot be read (the failure is printed).
 */
export async function loadHyperIndex(dog: Dog, root: Buffer, at: number): Promise<HyperIndex | undefined> {
  const h = readBtreeHeader(root, at);
  const idxs: number[] = [];
  const vids: number[] = [];
  if (h.magic === BTREE_MAGIC && h.depth === 1) {
    leafEntries(root, at + INDEX_HEADER_SIZE, h.entries, idxs, vids);
  } else if (h.magic === BTREE_MAGIC && h.depth === 2) {
    const n = Math.min(h.entries, Math.floor((root.length - at - INDEX_HEADER_SIZE) / INDIRECT_ENTRY));
    for (let i = 0; i < n; i++) {
      const oid = root.readBigUInt64LE(at + INDEX_HEADER_SIZE + i * INDIRECT_ENTRY + 8);
      if (!isBtreeObj(oid)) continue;
      const head = await readObject(dog, oid, INDEX_HEADER_SIZE, 0, true);
      if (head.result !== 0) return undefined;
      const lh = readBtreeHeader(head.data, 0);
      if (lh.magic !== BTREE_MAGIC || lh.entries === 0) continue;
      const leaf = await readObject(dog, oid, INDEX_HEADER_SIZE + lh.entries * LEAF_ENTRY, 0, true);
      if (leaf.result !== 0) return undefined;
      leafEntries(leaf.data, INDEX_HEADER_SIZE, lh.entries, idxs, vids);
    }
  }
  const order = idxs.map((_, i) => i).sort((a, b) => idxs[a]! - idxs[b]!);
  return new HyperIndex(
    Uint32Array.from(order, (i) => idxs[i]!),
    Uint32Array.from(order, (i) => vids[i]!),
  );
}

/** The index of an inode read from offset 0 (header + index area), flat or hyper. */
export async function inodeIndex(
  dog: Dog, inode: Buffer, storePolicy: number, count: number,
): Promise<InodeIndex | undefined> {
  if (storePolicy === 1) return loadHyperIndex(dog, inode, SD_INODE_HEADER_SIZE);
  return new FlatIndex(inode, SD_INODE_HEADER_SIZE, count);
}
