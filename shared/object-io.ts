/**
 * Object reads, writes and removals through a gateway (which does the
 * replication): the requests a VDI's byte I/O is made of (sheepfs over its link to a
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

/** The WRITE_OBJ (or CREATE_AND_WRITE_OBJ, with CMD_COW for a copy-on-write source) request of a write. */
export function writeObjectRequest(w: ObjectWrite & { direct?: boolean }): SdHeader {
  let flags = (w.flags ?? 0) | SD_FLAG.CMD_WRITE;
  if (w.cowOid) flags |= SD_FLAG.CMD_COW;
  if (w.direct) flags |= SD_FLAG.CMD_DIRECT;
  const h = SdHeader.request(w.create ? SD_OP.CREATE_AND_WRITE_OBJ : SD_OP.WRITE_OBJ, flags, w.data.length);
  h.objOid = w.oid;
  h.objCowOid = w.cowOid ?? 0n;
  h.objCopies = w.copies;
  h.objCopyPolicy = w.copyPolicy;
  h.objOffset = w.offset;
  return h;
}

export async function writeObject(link: Gatewayed, w: ObjectWrite): Promise<void> {
  const r = await link.request(writeObjectRequest(w), w.data);
  if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, `write of object ${w.oid.toString(16)}`);
}

/** REMOVE_OBJ of every copy (the gateway fans it out). */
export async function removeObject(link: Gatewayed, oid: bigint, copies: number, copyPolicy: number): Promise<void> {
  const h = SdHeader.request(SD_OP.REMOVE_OBJ, 0, 0);
  h.objOid = oid;
  h.objCopies = copies;
  h.objCopyPolicy = copyPolicy;
  const r = await link.request(h);
  if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, `removal of object ${oid.toString(16)}`);
}
