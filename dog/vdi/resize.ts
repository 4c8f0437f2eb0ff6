/** dog vdi resize <vdiname> <new size> (cli.md §2.7.14): only the inode header's size changes. */
import { decodeInodeHeader, INODE_OFF } from '../../shared/inode.js';
import { SD_RES } from '../../shared/proto/results.js';
import { SD_INODE_DATA_INDEX, SD_INODE_HEADER_SIZE, SD_MAX_VDI_SIZE, vidToVdiOid } from '../../shared/oid.js';
import { sizeArgument } from '../option-values.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { writeObject } from '../object-io.js';
import { err } from '../output.js';
import { readVdiObj } from './open.js';

/** Why a new size is refused, or undefined. */
export function resizeError(newSize: bigint, oldSize: bigint, shift: number, hyper: boolean): string | undefined {
  if (hyper) {
    if (newSize > BigInt(SD_MAX_VDI_SIZE)) return `New VDI size is too large This volume's max size is ${SD_MAX_VDI_SIZE}`;
  } else {
    const max = 2n ** BigInt(shift) * BigInt(SD_INODE_DATA_INDEX);
    if (newSize > max) return `New VDI size is too large. This volume's max size is ${max}`;
  }
  if (newSize < oldSize) return 'Shrinking VDIs is not implemented';
  return undefined;
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const name = args[0]!;
  const newSize = sizeArgument(args[1], 'Please specify the new size for the VDI');
  if (newSize === undefined) return EXIT.USAGE;
  const opened = await readVdiObj(dog, name, 0, '', SD_INODE_HEADER_SIZE);
  if (!opened) return EXIT.FAILURE;
  const h = decodeInodeHeader(opened.inode);
  const oldSize = opened.inode.readBigUInt64LE(INODE_OFF.vdiSize);
  const why = resizeError(newSize, oldSize, h.blockSizeShift, h.storePolicy === 1);
  if (why) {
    err(why);
    return EXIT.USAGE;
  }
  const header = Buffer.from(opened.inode.subarray(0, SD_INODE_HEADER_SIZE));
  header.writeBigUInt64LE(newSize, INODE_OFF.vdiSize);
  const r = await writeObject(dog, {
    oid: vidToVdiOid(opened.vid), data: header, offset: 0,
    copies: h.nrCopies, copyPolicy: h.copyPolicy, create: false, direct: true,
  });
  if (r !== SD_RES.SUCCESS) {
    err('Failed to update an inode header');
    return EXIT.FAILURE;
  }
  return EXIT.SUCCESS;
}
