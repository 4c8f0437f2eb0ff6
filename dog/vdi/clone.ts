/** dog vdi clone -s <snap> [-P] [-n] [-v] [-r] <src> <dst> (cli.md §2.7.4). */
import { countDataObjs, decodeInodeHeader, INODE_OFF } from '../../shared/inode.js';
import { SD_RES } from '../../shared/proto/results.js';
import { SD_INODE_HEADER_SIZE, vidToDataOid } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { readObject, writeObject } from '../object-io.js';
import { err, out } from '../output.js';
import { showProgress } from '../progress.js';
import { orderedWindow, range } from '../window.js';
import { newVdi } from './create.js';
import { inodeIndex } from './inode-index.js';
import { readVdiObj } from './open.js';
import { INODE_WITH_INDEX } from './read.js';
import { slotWrite } from './slots.js';
import { openHyperTree, setEntry } from './hyper-tree.js';

export async function run(dog: Dog, args: string[]): Promise<number> {
  const o = dog.opts;
  const src = args[0]!;
  const dst = args[1];
  if (dst === undefined) {
    err('Destination VDI name must be specified');
    return EXIT.USAGE;
  }
  if (!o.snapshotId && !o.snapshotTag) {
    err('Only snapshot VDIs can be cloned');
    err("Please specify the '-s' option");
    return EXIT.USAGE;
  }
  const opened = await readVdiObj(dog, src, o.snapshotId, o.snapshotTag, INODE_WITH_INDEX);
  if (!opened) return EXIT.FAILURE;
  const h = decodeInodeHeader(opened.inode);
  const c = await newVdi(dog, {
    name: dst, size: opened.inode.readBigUInt64LE(INODE_OFF.vdiSize), baseVid: o.noShare ? 0 : opened.vid,
    snapshot: false, copies: h.nrCopies, copyPolicy: h.copyPolicy, storePolicy: h.storePolicy,
    blockSizeShift: h.blockSizeShift,
  });
  let ret = c.code;
  if (ret === EXIT.SUCCESS && (o.prealloc || o.noShare)) ret = await copyObjects(dog, opened.inode, c.vid, dst);
  if (ret === EXIT.SUCCESS && dog.verbose) {
    out(dog.raw ? `${c.vid.toString(16)}\n` : `VDI ID of newly created clone: ${c.vid.toString(16)}\n`);
  }
  return ret;
}

/** -P / -n: give the clone its own objects (copies of the source's, or zero-filled ones). */
async function copyObjects(dog: Dog, srcInode: Buffer, newVid: number, dst: string): Promise<number> {
  const o = dog.opts;
  const h = decodeInodeHeader(srcInode);
  const dstInode = await readVdiObj(dog, dst, 0, '', h.storePolicy === 1 ? INODE_WITH_INDEX : SD_INODE_HEADER_SIZE);
  if (!dstInode) return EXIT.FAILURE;
  // a hyper volume's B-tree (its index writes batched while objects are copied)
  const tree = h.storePolicy === 1 ? await openHyperTree(dog, newVid, dstInode.inode) : undefined;
  if (h.storePolicy === 1 && !tree) return EXIT.FAILURE;
  const index = (await inodeIndex(dog, srcInode, h.storePolicy, countDataObjs(h)))!;
  const objSize = 2 ** h.blockSizeShift;
  const count = countDataObjs(h);
  // without -P only allocated objects are copied: walk the index, not the (possibly huge) range
  const work = o.prealloc ? range(count) : [...index.entries()].map(([i]) => i);
  const one = async (idx: number): Promise<boolean> => {
    const owner = index.vidAt(idx);
    let data: Buffer = Buffer.alloc(0);
    if (owner !== 0) {
      const r = await readObject(dog, vidToDataOid(owner, idx), objSize, 0, true);
      if (r.result !== SD_RES.SUCCESS) return false;
      data = r.data;
    }
    const w = await writeObject(dog, {
      oid: vidToDataOid(newVid, idx), data, offset: 0,
      copies: h.nrCopies, copyPolicy: h.copyPolicy, create: true, direct: true,
    });
    if (w !== SD_RES.SUCCESS) return false;
    if (tree) {
      const message = await setEntry(tree, idx, newVid);
      if (message !== undefined) err(message);
      return message === undefined;
    }
    return (await slotWrite(dog, newVid, idx, h, { direct: true })) === SD_RES.SUCCESS;
  };
  let done = 0;
  for await (const ok of orderedWindow(work, 4, one)) {
    if (!ok) return EXIT.FAILURE;
    if (++done * objSize < h.vdiSize) showProgress(done * objSize, h.vdiSize, false);
  }
  showProgress(h.vdiSize, h.vdiSize, false);
  return EXIT.SUCCESS;
}
