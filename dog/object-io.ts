/**
 * Object reads and writes through the gateway (the original's dog_read_object
 * and dog_write_object), with their messages. Object ids in these messages are
 * plain hex, as 1.0 prints them.
 */
import { untrim } from '../shared/client.js';
import { writeObjectRequest } from '../shared/object-io.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_FLAG } from '../shared/proto/flags.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../shared/proto/results.js';
import type { Dog } from './context.js';
import { err } from './output.js';

export const hex = (n: number | bigint): string => n.toString(16);

export interface ObjectRead {
  result: number;
  /** exactly the requested length when result is SUCCESS */
  data: Buffer;
}

export function readObjectRequest(oid: bigint, length: number, offset: number, direct: boolean): SdHeader {
  const h = SdHeader.request(SD_OP.READ_OBJ, direct ? SD_FLAG.CMD_DIRECT : 0, length);
  h.objOid = oid;
  h.objOffset = offset;
  return h;
}

/** Read `length` bytes of an object at `offset`. Failures are printed; result says which. */
export async function readObject(
  dog: Dog, oid: bigint, length: number, offset = 0, direct = true,
): Promise<ObjectRead> {
  const r = await dog.exec(readObjectRequest(oid, length, offset, direct));
  if (!r) {
    err(`Failed to read object ${hex(oid)}`);
    return { result: SD_RES.EIO, data: Buffer.alloc(0) };
  }
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`Failed to read object ${hex(oid)} ${resultText(r.hdr.result)}`);
    return { result: r.hdr.result, data: Buffer.alloc(0) };
  }
  return { result: SD_RES.SUCCESS, data: untrim(r, length) };
}

export interface WriteSpec {
  oid: bigint;
  /** copy-on-write source (0n: none) */
  cowOid?: bigint;
  data: Buffer;
  offset: number;
  /** extra header flags (CACHE for vdi write -w) */
  flags?: number;
  copies: number;
  copyPolicy: number;
  create: boolean;
  direct: boolean;
}

/** The request of a write (shared with sheepfs and the NBD export). */
export { writeObjectRequest };

/** Write (or create) an object: the result and, on failure, the message the original prints. */
export async function writeObjectQuiet(dog: Dog, w: WriteSpec): Promise<{ result: number; message?: string }> {
  const r = await dog.exec(writeObjectRequest(w), w.data);
  if (!r) return { result: SD_RES.EIO, message: `Failed to write object ${hex(w.oid)}` };
  if (r.hdr.result !== SD_RES.SUCCESS) {
    return { result: r.hdr.result, message: `Failed to write object ${hex(w.oid)}: ${resultText(r.hdr.result)}` };
  }
  return { result: SD_RES.SUCCESS };
}

/** Write (or create) an object; returns the result code, failures printed. */
export async function writeObject(dog: Dog, w: WriteSpec): Promise<number> {
  const r = await writeObjectQuiet(dog, w);
  if (r.message) err(r.message);
  return r.result;
}

/**
 * A request that carries no payload either way (send_light_req). Failures print
 * `Response's result: <text>`; returns false on any failure.
 */
export async function lightRequest(dog: Dog, req: SdHeader, to = dog.target): Promise<boolean> {
  const r = await dog.exec(req, undefined, to);
  if (!r) return false;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`Response's result: ${resultText(r.hdr.result)}`);
    return false;
  }
  return true;
}
