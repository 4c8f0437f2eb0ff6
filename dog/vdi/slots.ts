/**
 * Pointing an inode's index slot at a data object (sd_inode_write_vid for a
 * flat VDI): a 4-byte WRITE_OBJ into data_vdi_id, which also makes the gateway
 * drop the reference the slot held before.
 */
import { slotOffset } from '../../shared/inode.js';
import { vidToVdiOid } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { writeObject, writeObjectQuiet, type WriteSpec } from '../object-io.js';

export interface SlotOptions {
  /** CACHE for vdi write -w */
  flags?: number;
  direct: boolean;
}

function slotSpec(vid: number, idx: number, h: { nrCopies: number; copyPolicy: number }, o: SlotOptions): WriteSpec {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(vid, 0);
  return {
    oid: vidToVdiOid(vid), data, offset: slotOffset(idx), flags: o.flags,
    copies: h.nrCopies, copyPolicy: h.copyPolicy, create: false, direct: o.direct,
  };
}

/** Set slot idx of VDI vid to vid; failures printed. */
export function slotWrite(
  dog: Dog, vid: number, idx: number, h: { nrCopies: number; copyPolicy: number }, o: SlotOptions,
): Promise<number> {
  return writeObject(dog, slotSpec(vid, idx, h, o));
}

/** slotWrite that returns the failure message instead of printing it. */
export function slotWriteQuiet(
  dog: Dog, vid: number, idx: number, h: { nrCopies: number; copyPolicy: number }, o: SlotOptions,
): Promise<{ result: number; message?: string }> {
  return writeObjectQuiet(dog, slotSpec(vid, idx, h, o));
}
