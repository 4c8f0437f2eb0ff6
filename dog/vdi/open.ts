/**
 * Finding a VDI by name (and snapshot id or tag) and reading its inode, with
 * the original's messages (cli.md §2.7.0).
 */
import { SdHeader } from '../../shared/proto/header.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { vidToVdiOid, SD_MAX_VDI_LEN, SD_MAX_VDI_TAG_LEN } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { readObject } from '../object-io.js';
import { err } from '../output.js';

/** A NUL-padded fixed field holding at most len-1 bytes of s (C pstrcpy). */
export function cField(s: string, len: number, out = Buffer.alloc(len), at = 0): Buffer {
  const b = Buffer.from(s, 'utf8');
  b.copy(out, at, 0, Math.min(b.length, len - 1));
  return out;
}

/** The 512-byte name + tag payload of GET_VDI_INFO and DEL_VDI. */
export function nameTagPayload(name: string, tag: string | null): Buffer {
  const buf = Buffer.alloc(SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN);
  cField(name, SD_MAX_VDI_LEN, buf, 0);
  if (tag) cField(tag, SD_MAX_VDI_TAG_LEN, buf, SD_MAX_VDI_LEN);
  return buf;
}

/** GET_VDI_INFO: the vid of a VDI, or the failure's result (EIO when the exchange failed). */
export async function findVdi(
  dog: Dog, name: string, snapid: number, tag: string | null,
): Promise<{ result: number; vid: number }> {
  const h = SdHeader.request(SD_OP.GET_VDI_INFO, SD_FLAG.CMD_WRITE, SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN);
  h.vdiSnapid = snapid >>> 0;
  const r = await dog.exec(h, nameTagPayload(name, tag));
  if (!r) return { result: SD_RES.EIO, vid: 0 };
  return { result: r.hdr.result, vid: r.hdr.result === SD_RES.SUCCESS ? r.hdr.rspVdiId : 0 };
}

/** `Failed to open VDI ...`; a missing tag prints as C's printf prints NULL. */
export function openFailureText(name: string, snapid: number, tag: string | null, result: number): string {
  return `Failed to open VDI ${name} (snapshot id: ${snapid} snapshot tag: ${tag ?? '(null)'}): ${resultText(result)}`;
}

export interface OpenedVdi {
  vid: number;
  /** the first `size` bytes of the inode object */
  inode: Buffer;
}

/**
 * read_vdi_obj: find the VDI, then read `size` bytes of its inode. On failure
 * the messages are printed and undefined is returned (the caller exits 1).
 */
export async function readVdiObj(
  dog: Dog, name: string, snapid: number, tag: string | null, size: number,
): Promise<OpenedVdi | undefined> {
  const f = await findVdi(dog, name, snapid, tag);
  if (f.result !== SD_RES.SUCCESS) {
    err(openFailureText(name, snapid, tag, f.result));
    return undefined;
  }
  const r = await readObject(dog, vidToVdiOid(f.vid), size, 0, true);
  if (r.result !== SD_RES.SUCCESS) {
    if (snapid) err(`Failed to read a snapshot ${name}:${snapid}`);
    else if (tag) err(`Failed to read a snapshot ${name}:${tag}`);
    else err(`Failed to read a vdi ${name}`);
    return undefined;
  }
  return { vid: f.vid, inode: r.data };
}
