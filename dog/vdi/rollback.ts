/** dog vdi rollback -s <snap> [-f] [-v] <vdiname> (cli.md §2.7.6, protocol.md §8.4.3). */
import { decodeInodeHeader, INODE_OFF } from '../../shared/inode.js';
import { SD_INODE_HEADER_SIZE } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { confirm } from '../prompt.js';
import { newVdi } from './create.js';
import { deleteVdi } from './delete.js';
import { readVdiObj } from './open.js';

export const ROLLBACK_PROMPT =
  'This operation discards any changes made since the previous\nsnapshot was taken.  Continue? [yes/no]: ';

export async function run(dog: Dog, args: string[]): Promise<number> {
  const o = dog.opts;
  const name = args[0]!;
  if (!o.snapshotId && !o.snapshotTag) {
    err("Please specify the '-s' option");
    return EXIT.USAGE;
  }
  const snap = await readVdiObj(dog, name, o.snapshotId, o.snapshotTag, SD_INODE_HEADER_SIZE);
  if (!snap) return EXIT.FAILURE;
  const h = decodeInodeHeader(snap.inode);
  if (!o.force) confirm(ROLLBACK_PROMPT);
  // like the original, go on whatever the delete reported (its routine always said success)
  await deleteVdi(dog, name, 0, null);
  const c = await newVdi(dog, {
    name, size: snap.inode.readBigUInt64LE(INODE_OFF.vdiSize), baseVid: snap.vid, snapshot: false,
    copies: o.copies, copyPolicy: h.copyPolicy, storePolicy: h.storePolicy, blockSizeShift: h.blockSizeShift,
  });
  if (c.code === EXIT.SUCCESS && dog.verbose) {
    out(dog.raw ? `${c.vid.toString(16)}\n` : `New VDI ID of rollbacked VDI: ${c.vid.toString(16)}\n`);
  }
  return c.code;
}
