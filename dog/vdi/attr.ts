/** dog vdi setattr / getattr: VDI attributes kept in attribute objects (cli.md §2.7.12-13). */
import { readFull } from '../fdio.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { SD_ATTR_OBJ_SIZE, vidToAttrOid } from '../../shared/oid.js';
import { encodeVdiAttr, SD_MAX_VDI_ATTR_KEY_LEN, SD_MAX_VDI_ATTR_VALUE_LEN, VDI_ATTR_OFF } from '../../shared/proto/vdi-attr.js';
import type { Dog } from '../context.js';
import { strerror } from '../errno.js';
import { EXIT } from '../exit.js';
import { readObject } from '../object-io.js';
import { err, writeBinary } from '../output.js';

const OFF = VDI_ATTR_OFF;

async function findAttr(
  dog: Dog, name: string, key: string, value: Buffer | undefined, flags: number,
): Promise<{ result: number; oid: bigint }> {
  const o = dog.opts;
  const h = SdHeader.request(SD_OP.GET_VDI_ATTR, SD_FLAG.CMD_WRITE | flags, SD_ATTR_OBJ_SIZE);
  h.vdiSnapid = o.snapshotId >>> 0;
  const r = await dog.exec(h, encodeVdiAttr(name, o.snapshotTag, o.snapshotId, key, value));
  if (!r) return { result: SD_RES.EIO, oid: 0n };
  if (r.hdr.result !== SD_RES.SUCCESS) return { result: r.hdr.result, oid: 0n };
  return { result: SD_RES.SUCCESS, oid: vidToAttrOid(r.hdr.rspVdiId, r.hdr.rspAttrId) };
}

/** The value as the original passes it: a C string, so up to the first NUL. */
function cString(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

/**
 * A key longer than its 255-byte field is refused: the original cut it short
 * silently, so two long keys with a common start named the same attribute.
 */
function keyTooLong(key: string): boolean {
  const len = Buffer.byteLength(key, 'utf8');
  if (len < SD_MAX_VDI_ATTR_KEY_LEN) return false;
  err(`Attribute key is longer than ${SD_MAX_VDI_ATTR_KEY_LEN - 1} bytes`);
  return true;
}

export const setattr = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const [name, key, arg] = args as [string, string | undefined, string | undefined];
    if (key === undefined) {
      err('Please specify the attribute key');
      return EXIT.USAGE;
    }
    const o = dog.opts;
    if (keyTooLong(key)) return EXIT.USAGE;
    let value: Buffer | undefined = arg === undefined ? undefined : Buffer.from(arg, 'utf8');
    if (value === undefined && !o.delete) {
      // one byte more than fits tells a value that is too long from one that fills the field
      const buf = Buffer.alloc(SD_MAX_VDI_ATTR_VALUE_LEN + 1);
      try {
        value = buf.subarray(0, await readFull(0, buf, buf.length));
      } catch (e) {
        err(`Failed to read attribute value from stdin: ${strerror(e)}`);
        return EXIT.SYSFAIL;
      }
    }
    if (value) value = cString(value);
    if (value && value.length > SD_MAX_VDI_ATTR_VALUE_LEN) {
      // the original overflows its buffer here; refuse and change nothing
      err(`Attribute value is longer than ${SD_MAX_VDI_ATTR_VALUE_LEN} bytes`);
      return EXIT.USAGE;
    }
    let flags = 0;
    if (!o.delete) flags |= SD_FLAG.CMD_CREAT;
    if (o.exclusive) flags |= SD_FLAG.CMD_EXCL;
    if (o.delete) flags |= SD_FLAG.CMD_DEL;
    const r = await findAttr(dog, name, key, value, flags);
    switch (r.result) {
      case SD_RES.SUCCESS: return EXIT.SUCCESS;
      case SD_RES.VDI_EXIST: err(`The attribute '${key}' already exists`); return EXIT.EXISTS;
      case SD_RES.NO_OBJ: err(`Attribute '${key}' not found`); return EXIT.MISSING;
      case SD_RES.NO_VDI: err('VDI not found'); return EXIT.MISSING;
      default: err(`Failed to set attribute: ${resultText(r.result)}`); return EXIT.FAILURE;
    }
  },
};

export const getattr = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const [name, key] = args as [string, string | undefined];
    if (key === undefined) {
      err('Please specify the attribute key');
      return EXIT.USAGE;
    }
    if (keyTooLong(key)) return EXIT.USAGE;
    const f = await findAttr(dog, name, key, undefined, 0);
    if (f.result === SD_RES.NO_OBJ) {
      err(`Attribute '${key}' not found`);
      return EXIT.MISSING;
    }
    if (f.result === SD_RES.NO_VDI) {
      err('VDI not found');
      return EXIT.MISSING;
    }
    if (f.result !== SD_RES.SUCCESS) {
      err(`Failed to find attribute oid: ${resultText(f.result)}`);
      return EXIT.MISSING;
    }
    const r = await readObject(dog, f.oid, SD_ATTR_OBJ_SIZE, 0, true);
    if (r.result !== SD_RES.SUCCESS) {
      err(`Failed to read attribute oid: ${resultText(r.result)}`);
      return EXIT.SYSFAIL;
    }
    const len = Math.min(r.data.readUInt32LE(OFF.valueLen), SD_MAX_VDI_ATTR_VALUE_LEN);
    try {
      await writeBinary(r.data.subarray(OFF.value, OFF.value + len));
    } catch (e) {
      err(`Failed to write to stdout: ${strerror(e)}`);
      return EXIT.SYSFAIL;
    }
    return EXIT.SUCCESS;
  },
};
