/**
 * A hyper volume's B-tree (shared/btree.ts) as dog reads and changes it:
 * object I/O through dog's connection, failures printed as the original's
 * dog_read_object/dog_write_object print them.
 */
import { HyperTree, type BtreeIo } from '../../shared/btree.js';
import { SdError } from '../../shared/errors.js';
import { decodeInodeHeader } from '../../shared/inode.js';
import { SD_INODE_HEADER_SIZE } from '../../shared/oid.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { readObject, writeObjectQuiet } from '../object-io.js';
import { err } from '../output.js';

/** Object I/O for the tree of an inode whose header is `head`; writes carry `flags` (CMD_CACHE for -w). */
export function dogBtreeIo(dog: Dog, head: Buffer, flags = 0): BtreeIo {
  const h = head.length >= SD_INODE_HEADER_SIZE ? decodeInodeHeader(head) : undefined;
  return {
    async read(oid, length, offset) {
      const r = await readObject(dog, oid, length, offset, true);
      if (r.result !== SD_RES.SUCCESS) throw new SdError(r.result, `read of object ${oid.toString(16)}`);
      return r.data;
    },
    async write(oid, data, offset, create) {
      const r = await writeObjectQuiet(dog, {
        oid, data, offset, create, direct: false, flags, copies: h?.nrCopies ?? 0, copyPolicy: h?.copyPolicy ?? 0,
      });
      if (r.result !== SD_RES.SUCCESS) throw new SdError(r.result, r.message);
    },
  };
}

/**
 * The tree of the inode read from offset 0 into `inode` (header and at least
 * the root's used bytes), its leaves read; undefined when one cannot be (printed).
 */
export async function openHyperTree(dog: Dog, vid: number, inode: Buffer, flags = 0): Promise<HyperTree | undefined> {
  try {
    return await HyperTree.load(vid, inode, inode.subarray(SD_INODE_HEADER_SIZE), dogBtreeIo(dog, inode, flags));
  } catch (e) {
    if (!(e instanceof SdError)) throw e;
    if (e.code !== SD_RES.NO_OBJ && e.code !== SD_RES.EIO) err(e.message);
    return undefined;
  }
}

/** Change entry idx; the failure message, or undefined on success. */
export async function setEntry(tree: HyperTree, idx: number, vid: number): Promise<string | undefined> {
  try {
    await tree.set(idx, vid);
    return undefined;
  } catch (e) {
    if (!(e instanceof SdError)) throw e;
    return e.message;
  }
}
