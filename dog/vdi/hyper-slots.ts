/**
 * The index of a hyper volume as `vdi write` updates it: a one-level B-tree
 * (protocol.md §7.3) whose sorted (idx, vid) entries sit in the inode's
 * data_vdi_id area. A new entry is written with the inode header, from offset
 * 0, as the original's sd_inode_write does: a write that lies wholly inside
 * data_vdi_id would be taken by the gateway for flat index slots whose
 * references it drops. Updates are written one at a time, in order.
 */
import { SD_INODE_DATA_INDEX_SIZE, SD_INODE_HEADER_SIZE, vidToVdiOid } from '../../shared/oid.js';
import type { InodeHeader } from '../../shared/inode.js';
import type { Dog } from '../context.js';
import { writeObjectQuiet } from '../object-io.js';
import { BTREE_MAGIC, INDEX_HEADER_SIZE, readBtreeHeader } from './inode-index.js';

const ENTRY = 8;
/** Entries a one-level tree holds in the 4 MiB area. */
export const MAX_ROOT_ENTRIES = Math.floor((SD_INODE_DATA_INDEX_SIZE - INDEX_HEADER_SIZE) / ENTRY);

export interface SlotResult { result: number; message?: string }

export class HyperSlots {
  private readonly idxs: number[] = [];
  private readonly vids: number[] = [];
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly dog: Dog, private readonly h: InodeHeader, private readonly header: Buffer) {}

  /**
   * From the inode as read (header plus data_vdi_id area). undefined when the
   * tree has two levels, which this writer does not handle yet.
   */
  static open(dog: Dog, h: InodeHeader, inode: Buffer): HyperSlots | undefined {
    const bh = readBtreeHeader(inode, SD_INODE_HEADER_SIZE);
    if (bh.magic === BTREE_MAGIC && bh.depth !== 1) return undefined;
    const s = new HyperSlots(dog, h, Buffer.from(inode.subarray(0, SD_INODE_HEADER_SIZE)));
    const n = bh.magic === BTREE_MAGIC ? bh.entries : 0;
    for (let i = 0; i < n; i++) {
      const at = SD_INODE_HEADER_SIZE + INDEX_HEADER_SIZE + i * ENTRY;
      s.idxs.push(inode.readUInt32LE(at));
      s.vids.push(inode.readUInt32LE(at + 4));
    }
    return s;
  }

  private find(idx: number): number {
    let lo = 0, hi = this.idxs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.idxs[mid]! < idx) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  vidAt(idx: number): number {
    const i = this.find(idx);
    return this.idxs[i] === idx ? this.vids[i]! : 0;
  }

  /** Point idx at vid in memory; false when the one-level tree is full. */
  set(idx: number, vid: number): boolean {
    const i = this.find(idx);
    if (this.idxs[i] === idx) {
      this.vids[i] = vid;
      return true;
    }
    if (this.idxs.length >= MAX_ROOT_ENTRIES) return false;
    this.idxs.splice(i, 0, idx);
    this.vids.splice(i, 0, vid);
    return true;
  }

  private image(): Buffer {
    const n = this.idxs.length;
    const b = Buffer.alloc(SD_INODE_HEADER_SIZE + INDEX_HEADER_SIZE + n * ENTRY);
    this.header.copy(b);
    b.writeUInt16LE(BTREE_MAGIC, SD_INODE_HEADER_SIZE);
    b.writeUInt16LE(1, SD_INODE_HEADER_SIZE + 2);
    b.writeUInt32LE(n, SD_INODE_HEADER_SIZE + 4);
    for (let i = 0; i < n; i++) {
      b.writeUInt32LE(this.idxs[i]!, SD_INODE_HEADER_SIZE + INDEX_HEADER_SIZE + i * ENTRY);
      b.writeUInt32LE(this.vids[i]!, SD_INODE_HEADER_SIZE + INDEX_HEADER_SIZE + i * ENTRY + 4);
    }
    return b;
  }

  /** Write the header and the tree as they are now (after earlier writes finish). */
  persist(flags: number): Promise<SlotResult> {
    const p = this.chain.then(() => writeObjectQuiet(this.dog, {
      oid: vidToVdiOid(this.h.vdiId), data: this.image(), offset: 0, flags,
      copies: this.h.nrCopies, copyPolicy: this.h.copyPolicy, create: false, direct: false,
    }));
    this.chain = p.catch(() => {});
    return p;
  }
}
