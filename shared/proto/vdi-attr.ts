/**
 * sheepdog_vdi_attr (protocol.md §7.6), the GET_VDI_ATTR request payload and
 * the attribute object's contents: dog encodes it (vdi setattr/getattr), the
 * sheep reads its fields in place to find or create the attribute object.
 */
import { readCString } from '../inode.js';
import { SD_ATTR_OBJ_SIZE, SD_MAX_VDI_LEN, SD_MAX_VDI_TAG_LEN } from '../oid.js';
import { cField } from './vdi-name.js';

export const SD_MAX_VDI_ATTR_KEY_LEN = 256;
export const SD_MAX_VDI_ATTR_VALUE_LEN = 65536;

/** Field offsets: name[256], tag[256], u64 ctime, u32 snap_id, u32 value_len, key[256], value[65536]. */
export const VDI_ATTR_OFF = { name: 0, tag: 256, ctime: 512, snapId: 520, valueLen: 524, key: 528, value: 784 } as const;

export interface VdiAttr {
  name: string;
  tag: string;
  ctime: bigint;
  snapId: number;
  key: string;
  value: Buffer;
}

/** The request payload: strings cut to their fields (each keeps its NUL), ctime left 0. */
export function encodeVdiAttr(name: string, tag: string, snapId: number, key: string, value?: Buffer): Buffer {
  const b = Buffer.alloc(SD_ATTR_OBJ_SIZE);
  cField(name, SD_MAX_VDI_LEN, b, VDI_ATTR_OFF.name);
  cField(tag, SD_MAX_VDI_TAG_LEN, b, VDI_ATTR_OFF.tag);
  b.writeUInt32LE(snapId >>> 0, VDI_ATTR_OFF.snapId);
  cField(key, SD_MAX_VDI_ATTR_KEY_LEN, b, VDI_ATTR_OFF.key);
  if (value && value.length) {
    b.writeUInt32LE(value.length, VDI_ATTR_OFF.valueLen);
    value.copy(b, VDI_ATTR_OFF.value);
  }
  return b;
}

export function decodeVdiAttr(b: Buffer): VdiAttr {
  const len = Math.min(b.readUInt32LE(VDI_ATTR_OFF.valueLen), SD_MAX_VDI_ATTR_VALUE_LEN);
  return {
    name: readCString(b, VDI_ATTR_OFF.name, SD_MAX_VDI_LEN),
    tag: readCString(b, VDI_ATTR_OFF.tag, SD_MAX_VDI_TAG_LEN),
    ctime: b.readBigUInt64LE(VDI_ATTR_OFF.ctime),
    snapId: b.readUInt32LE(VDI_ATTR_OFF.snapId),
    key: readCString(b, VDI_ATTR_OFF.key, SD_MAX_VDI_ATTR_KEY_LEN),
    value: Buffer.from(b.subarray(VDI_ATTR_OFF.value, VDI_ATTR_OFF.value + len)),
  };
}
