/** dog vdi create [-P] [-y] [-c copies] [-z shift] [-v] [-r] <vdiname> <size> (cli.md §2.7.2). */
import { decodeClusterInfo, CLUSTER_INFO_SIZE } from '../../shared/proto/cluster-info.js';
import { BTREE_HEADER_SIZE } from '../../shared/btree.js';
import { decodeInodeHeader } from '../../shared/inode.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import {
  SD_DEFAULT_BLOCK_SIZE_SHIFT, SD_INODE_DATA_INDEX, SD_INODE_HEADER_SIZE, SD_MAX_VDI_LEN, SD_MAX_VDI_SIZE,
  vidToDataOid, vidToVdiOid,
} from '../../shared/oid.js';
import { formatSize } from '../../shared/size.js';
import { sizeArgument } from '../option-values.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { readObject, writeObject } from '../object-io.js';
import { err, out } from '../output.js';
import { showProgress } from '../progress.js';
import { orderedWindow, range } from '../window.js';
import { cField } from './open.js';
import { openHyperTree, setEntry } from './hyper-tree.js';
import { slotWrite } from './slots.js';

export interface NewVdi {
  name: string;
  size: bigint;
  baseVid: number;
  snapshot: boolean;
  copies: number;
  copyPolicy: number;
  storePolicy: number;
  blockSizeShift: number;
}

/** NEW_VDI (do_vdi_create). Returns the exit status and the new vid. */
export async function newVdi(dog: Dog, v: NewVdi): Promise<{ code: number; vid: number }> {
  const h = SdHeader.request(SD_OP.NEW_VDI, SD_FLAG.CMD_WRITE, SD_MAX_VDI_LEN);
  h.vdiBaseVid = v.baseVid;
  h.vdiSnapid = v.snapshot ? 1 : 0;
  h.vdiSize = v.size;
  h.vdiCopies = v.copies;
  h.vdiCopyPolicy = v.copyPolicy;
  h.vdiStorePolicy = v.storePolicy;
  h.vdiBlockSizeShift = v.blockSizeShift;
  const r = await dog.exec(h, cField(v.name, SD_MAX_VDI_LEN));
  if (!r) return { code: EXIT.SYSFAIL, vid: 0 };
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`Failed to create VDI ${v.name}: ${resultText(r.hdr.result)}`);
    return { code: EXIT.FAILURE, vid: 0 };
  }
  return { code: EXIT.SUCCESS, vid: r.hdr.rspVdiId };
}

/** The size limits of §2.7.2; a message when the size is refused. */
export function sizeLimitError(size: bigint, shift: number, hyper: boolean, raw: boolean): string | undefined {
  const maxFlat = 2n ** BigInt(shift) * BigInt(SD_INODE_DATA_INDEX);
  if (size > maxFlat && !hyper) {
    return `VDI size is larger than ${formatSize(maxFlat, raw)} bytes, please use '-y' to create a hyper volume ` +
      `with size up to ${formatSize(SD_MAX_VDI_SIZE, raw)} bytes or use '-z' to create larger object size volume`;
  }
  if (size > BigInt(SD_MAX_VDI_SIZE)) return 'VDI size is too large';
  return undefined;
}

/** -P: create every data object zero-filled and point its slot at it (pipelined). */
async function preallocate(dog: Dog, vid: number): Promise<number> {
  const r = await readObject(dog, vidToVdiOid(vid), SD_INODE_HEADER_SIZE + BTREE_HEADER_SIZE, 0, true);
  if (r.result !== SD_RES.SUCCESS) {
    err('Failed to read a newly created VDI object');
    return EXIT.FAILURE;
  }
  const h = decodeInodeHeader(r.data);
  // a hyper volume's index is its B-tree (its index writes batched while objects are created)
  const tree = h.storePolicy === 1 ? await openHyperTree(dog, vid, r.data) : undefined;
  if (h.storePolicy === 1 && !tree) {
    err('Failed to read a newly created VDI object');
    return EXIT.FAILURE;
  }
  const objSize = 2 ** h.blockSizeShift;
  const count = Math.ceil(h.vdiSize / objSize);
  const indexes = range(count);
  const one = async (idx: number): Promise<boolean> => {
    const created = await writeObject(dog, {
      oid: vidToDataOid(vid, idx), data: Buffer.alloc(0), offset: 0,
      copies: h.nrCopies, copyPolicy: h.copyPolicy, create: true, direct: true,
    });
    if (created !== SD_RES.SUCCESS) return false;
    if (tree) {
      const message = await setEntry(tree, idx, vid);
      if (message !== undefined) err(message);
      return message === undefined;
    }
    return (await slotWrite(dog, vid, idx, h, { direct: true })) === SD_RES.SUCCESS;
  };
  let done = 0;
  showProgress(0, h.vdiSize, dog.raw);
  for await (const ok of orderedWindow(indexes, 8, one)) {
    if (!ok) return EXIT.FAILURE;
    done++;
    showProgress(Math.min(done * objSize, h.vdiSize), h.vdiSize, dog.raw);
  }
  return EXIT.SUCCESS;
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const o = dog.opts;
  const name = args[0]!;
  const size = sizeArgument(args[1], 'Please specify the VDI size');
  if (size === undefined) return EXIT.USAGE;
  const hyper = o.storePolicy === 1;
  // a hyper volume always has 4 MiB objects
  const requestShift = o.blockSizeShift || (hyper ? SD_DEFAULT_BLOCK_SIZE_SHIFT : 0);
  let shift = requestShift;
  if (!shift) {
    const r = await dog.exec(SdHeader.request(SD_OP.CLUSTER_INFO, 0, CLUSTER_INFO_SIZE));
    if (!r) {
      err('Fail to execute request: SD_OP_CLUSTER_INFO');
      return EXIT.FAILURE;
    }
    const ci = r.data.length >= 48 ? decodeClusterInfo(r.data) : undefined;
    if (!ci || ci.ctime === 0n) {
      err(`Failed to create VDI ${name}: ${resultText(SD_RES.WAIT_FOR_FORMAT)}`);
      return EXIT.FAILURE;
    }
    if (r.hdr.result !== SD_RES.SUCCESS) {
      err(resultText(r.hdr.result));
      return EXIT.FAILURE;
    }
    shift = ci.blockSizeShift || SD_DEFAULT_BLOCK_SIZE_SHIFT;
  }
  const limit = sizeLimitError(size, shift, hyper, dog.raw);
  if (limit) {
    err(limit);
    return EXIT.USAGE;
  }
  const created = await newVdi(dog, {
    name, size, baseVid: 0, snapshot: false, copies: o.copies, copyPolicy: o.copyPolicy,
    storePolicy: o.storePolicy, blockSizeShift: requestShift,
  });
  let ret = created.code;
  if (ret === EXIT.SUCCESS && o.prealloc) ret = await preallocate(dog, created.vid);
  if (ret === EXIT.SUCCESS && dog.verbose) {
    out(dog.raw ? `${created.vid.toString(16)}\n` : `VDI ID of newly created VDI: ${created.vid.toString(16)}\n`);
  }
  return ret;
}
