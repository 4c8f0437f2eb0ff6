/**
 * data_vdi_id: which VDI owns data object i. A flat VDI keeps it as an array
 * in the inode; a hyper volume (store_policy 1) keeps a B-tree whose root sits
 * in the same area (protocol.md §7.3). Both answer the same questions here.
 */
import type { HyperTree } from '../../shared/btree.js';
import { INODE_OFF } from '../../shared/inode.js';
import { SD_INODE_HEADER_SIZE } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { openHyperTree } from './hyper-tree.js';

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

/**
 * Load a hyper volume's index from the root in `root` (the data_vdi_id area,
 * starting at `at`), reading the leaf objects of a depth-2 tree. undefined when
 * a leaf cannot be read (the failure is printed). The tree is only read.
 */
export async function loadHyperIndex(dog: Dog, root: Buffer, at: number): Promise<HyperTree | undefined> {
  const head = Buffer.alloc(SD_INODE_HEADER_SIZE);
  return openHyperTree(dog, 0, Buffer.concat([head, root.subarray(at)]));
}

/** The index of an inode read from offset 0 (header + index area), flat or hyper. */
export async function inodeIndex(
  dog: Dog, inode: Buffer, storePolicy: number, count: number,
): Promise<InodeIndex | undefined> {
  if (storePolicy === 1) return openHyperTree(dog, inode.readUInt32LE(INODE_OFF.vdiId), inode);
  return new FlatIndex(inode, SD_INODE_HEADER_SIZE, count);
}
