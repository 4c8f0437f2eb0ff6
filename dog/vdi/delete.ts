/**
 * dog vdi delete [-s snap] <vdiname> (cli.md §2.7.5, protocol.md §8.5).
 * First the index slots are zeroed in batches (each write makes the gateway
 * drop the references they held), then DEL_VDI. Like the original, the exit
 * status is 0 whatever happens; scripts rely on that.
 */
import { countDataObjs, decodeInodeHeader, slotOffset } from '../../shared/inode.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { SD_INODE_HEADER_SIZE, SD_MAX_VDI_LEN, SD_MAX_VDI_TAG_LEN, vidToVdiOid } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { hex, readObject, writeObject } from '../object-io.js';
import { err } from '../output.js';
import { FlatIndex } from './inode-index.js';
import { findVdi, nameTagPayload, openFailureText } from './open.js';
import { INODE_WITH_INDEX } from './read.js';

export const NR_BATCHED_DISCARD = 128;

/**
 * The slot ranges [start, end) the delete zeroes: each starts at a non-zero slot
 * and ends right after the batch's last non-zero slot (at most `batch` of them).
 */
export function discardBatches(slots: ArrayLike<number>, batch = NR_BATCHED_DISCARD): [number, number][] {
  const out: [number, number][] = [];
  const n = slots.length;
  let i = 0;
  while (i < n) {
    while (i < n && slots[i] === 0) i++;
    const start = i;
    let filled = 0;
    while (i < n && filled < batch) {
      if (slots[i] !== 0) filled++;
      i++;
    }
    // the original also sends a pointless empty write when only zeros remain
    if (filled > 0) out.push([start, i]);
  }
  return out;
}

/** do_vdi_delete; the returned status is what the original's routine reports internally. */
export async function deleteVdi(dog: Dog, name: string, snapid: number, tag: string | null): Promise<number> {
  const f = await findVdi(dog, name, snapid, tag);
  if (f.result !== SD_RES.SUCCESS) {
    err(openFailureText(name, snapid, tag, f.result));
    return EXIT.FAILURE;
  }
  const oid = vidToVdiOid(f.vid);
  const r = await readObject(dog, oid, INODE_WITH_INDEX, 0, false);
  if (r.result !== SD_RES.SUCCESS) {
    err(`failed to read inode object: ${hex(oid)}`);
    return EXIT.FAILURE;
  }
  const h = decodeInodeHeader(r.data);
  // a hyper volume's area holds a B-tree, not slots: DEL_VDI removes its objects
  if (h.storePolicy === 0) {
    const index = new FlatIndex(r.data, SD_INODE_HEADER_SIZE, countDataObjs(h));
    const slots: number[] = [];
    for (let i = 0; i < index.length; i++) slots.push(index.vidAt(i));
    for (const [start, end] of discardBatches(slots)) {
      const res = await writeObject(dog, {
        oid, data: Buffer.alloc((end - start) * 4), offset: slotOffset(start),
        copies: h.nrCopies, copyPolicy: h.copyPolicy, create: false, direct: true,
      });
      if (res !== SD_RES.SUCCESS) {
        err(`failed to update inode for discarding objects: ${hex(oid)}`);
        return EXIT.FAILURE;
      }
    }
  }
  const d = SdHeader.request(SD_OP.DEL_VDI, SD_FLAG.CMD_WRITE, SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN);
  d.vdiSnapid = snapid >>> 0;
  const del = await dog.exec(d, nameTagPayload(name, tag));
  if (!del) return EXIT.SYSFAIL;
  if (del.hdr.result !== SD_RES.SUCCESS) {
    err(`Failed to delete ${name}: ${resultText(del.hdr.result)}`);
    return del.hdr.result === SD_RES.NO_VDI ? EXIT.MISSING : EXIT.FAILURE;
  }
  return EXIT.SUCCESS;
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  await deleteVdi(dog, args[0]!, dog.opts.snapshotId, dog.opts.snapshotTag);
  return EXIT.SUCCESS;
}
