/**
 * A VDI as a file: the shared byte-range mapping (shared/vdi-volume.ts) over
 * sheepfs's link, plus what only a file has: resize. The
 * index is read again at every open() (another client may have allocated
 * objects meanwhile).
 */
import { countDataObjs, INODE_OFF } from '../shared/inode.js';
import { writeObject } from '../shared/object-io.js';
import { SD_INODE_DATA_INDEX, SD_MAX_VDI_SIZE, vidToVdiOid } from '../shared/oid.js';
import { VdiVolume } from '../shared/vdi-volume.js';
import { fail, E } from './errno.js';

export type { IoFlags } from '../shared/vdi-volume.js';

export class Volume extends VdiVolume {
  /**
   * Resize: growing changes the inode's size; shrinking is refused except to
   * 0, which is what opening with O_TRUNC asks and which is ignored (as the
   * original sheepfs does), so that `>` redirections and tools that open with
   * O_TRUNC work on a volume.
   */
  async resize(newSize: number): Promise<void> {
    if (this.readOnly) fail(E.EROFS);
    if (newSize === this.size || newSize === 0) return;
    if (newSize < this.size) fail(E.EOPNOTSUPP, 'shrinking a VDI is not supported');
    // a hyper volume's B-tree has room for any index up to its largest size
    const max = this.tree ? SD_MAX_VDI_SIZE : this.objSize * SD_INODE_DATA_INDEX;
    if (newSize > max) fail(E.EFBIG, `a VDI with ${this.objSize}-byte objects holds at most ${max} bytes`);
    const field = Buffer.alloc(8);
    field.writeBigUInt64LE(BigInt(newSize), 0);
    const h = this.header;
    await writeObject(this.link, {
      oid: vidToVdiOid(this.vid), data: field, offset: INODE_OFF.vdiSize, copies: h.nrCopies, copyPolicy: h.copyPolicy,
    });
    this.size = newSize;
    this.header = { ...h, vdiSize: newSize };
    if (this.tree) return;
    const grown = new Uint32Array(countDataObjs(this.header));
    grown.set(this.index.subarray(0, Math.min(this.index.length, grown.length)));
    this.index = grown;
  }
}
