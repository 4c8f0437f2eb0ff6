/** The fixed-size name and tag fields of VDI requests (GET_VDI_INFO, LOCK_VDI, DEL_VDI). */
import { SD_MAX_VDI_LEN, SD_MAX_VDI_TAG_LEN } from '../oid.js';

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
