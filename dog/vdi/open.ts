/**
 * Finding a VDI by name (and snapshot id or tag) and reading its inode, with
 * the original's messages (cli.md §2.7.0).
 */
import { SdHeader } from '../../shared/proto/header.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { vidToVdiOid, SD_MAX_VDI_LEN, SD_MAX_VDI_TAG_LEN } from '../../shared/oid.js';
import { nameTagPayload } from '../../shared/proto/vdi-name.js';
import type { Dog } from '../context.js';
import { readObject } from '../object-io.js';
import { err } from '../output.js';

export { cField, nameTagPayload } from '../../shared/proto/vdi-name.js';

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
