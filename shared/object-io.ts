/**
 * Object reads and writes through a gateway (which does the replication): the
 * three requests a VDI's byte I/O is made of (sheepfs over its link to a
 * sheep, the sheep's NBD export in-process). Failures throw SdError.
 */
import { untrim, type Reply } from './client.js';
import { SdError } from './errors.js';
import { SD_FLAG } from './proto/flags.js';
import { SdHeader } from './proto/header.js';
import { SD_OP } from './proto/opcodes.js';
import { SD_RES } from './proto/results.js';

/** Whatever carries a request to a gateway and brings its reply back. */
export interface Gatewayed {
  request(req: SdHeader, payload?: Buffer): Promise<Reply>;
}

export async function readObject(link: Gatewayed, oid: bigint, length: number, offset: number, flags = 0): Promise<Buffer> {
  const h = SdHeader.request(SD_OP.READ_OBJ, flags, length);
  h.objOid = oid;
  h.objOffset = offset;
  const r = await link.request(h);
  if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, `read of object ${oid.toString(16)}`);
  return untrim(r, length);
}

export interface ObjectWrite {
  oid: bigint;
  data: Buffer;
  offset: number;
  copies: number;
  copyPolicy: number;
  /** CREATE_AND_WRITE_OBJ instead of WRITE_OBJ */
  create?: boolean;
  /** copy-on-write source for a creation */
  cowOid?: bigint;
  flags?: number;
}

export async function writeObject(link: Gatewayed, w: ObjectWrite): Promise<void> {
  let flags = (w.flags ?? 0) | SD_FLAG.CMD_WRITE;
  if (w.cowOid) flags |= SD_FLAG.CMD_COW;
  const h = SdHeader.request(w.create ? SD_OP.CREATE_AND_WRITE_OBJ : SD_OP.WRITE_OBJ, flags, w.data.length);
  h.objOid = w.oid;
  h.objCowOid = w.cowOid ?? 0n;
  h.objCopies = w.copies;
  h.objCopyPolicy = w.copyPolicy;
  h.objOffset = w.offset;
  const r = await link.request(h, w.data);
  if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, `write of object ${w.oid.toString(16)}`);
}
