/** dog vdi snapshot [-s tag] [-R] [-v] [-r] <vdiname> (cli.md §2.7.3, protocol.md §8.4.2). */
import { countDataObjs, decodeInodeHeader, INODE_OFF, isSnapshot } from '../../shared/inode.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { SD_INODE_HEADER_SIZE, SD_MAX_VDI_TAG_LEN, vidToVdiOid } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { readObject, writeObject } from '../object-io.js';
import { err, out } from '../output.js';
import { newVdi } from './create.js';
import { inodeIndex } from './inode-index.js';
import { cField, findVdi, readVdiObj } from './open.js';
import { INODE_WITH_INDEX } from './read.js';

export async function run(dog: Dog, args: string[]): Promise<number> {
  const name = args[0]!;
  const o = dog.opts;
  if (o.snapshotId !== 0) {
    err('Please specify a non-integer value for a snapshot tag name');
    return EXIT.USAGE;
  }
  // the tag must not name a snapshot yet; no tag finds the working VDI itself
  const f = await findVdi(dog, name, 0, o.snapshotTag);
  let vid: number;
  let inode: Buffer;
  const size = o.reduceIdentical ? INODE_WITH_INDEX : SD_INODE_HEADER_SIZE;
  if (f.result === SD_RES.SUCCESS) {
    const r = await readObject(dog, vidToVdiOid(f.vid), size, 0, true);
    if (r.result !== SD_RES.SUCCESS) return EXIT.FAILURE;
    if (isSnapshot(decodeInodeHeader(r.data))) {
      err(`Failed to create snapshot for ${name}, maybe snapshot id (${o.snapshotId}) or tag (${o.snapshotTag}) is existed`);
      return EXIT.FAILURE;
    }
    vid = f.vid;
    inode = r.data;
  } else if (f.result === SD_RES.NO_TAG) {
    const opened = await readVdiObj(dog, name, 0, '', size);
    if (!opened) return EXIT.FAILURE;
    vid = opened.vid;
    inode = opened.inode;
  } else {
    err(`Failed to create snapshot for ${name}: ${resultText(f.result)}`);
    return EXIT.FAILURE;
  }
  // hyper volumes too (1.0's dog refused them): the sheep shares the B-tree with the snapshot
  const h = decodeInodeHeader(inode);
  if (o.reduceIdentical) {
    const index = await inodeIndex(dog, inode, h.storePolicy, countDataObjs(h));
    if (!index) return EXIT.FAILURE;
    let own = false;
    for (const [, owner] of index.entries()) if (owner === h.vdiId) { own = true; break; }
    if (!own) {
      if (dog.verbose) err(`VDI ${name} doesn't have its own objects, skipping creation of snapshot`);
      return EXIT.SUCCESS;
    }
  }
  const tagged = await writeObject(dog, {
    oid: vidToVdiOid(vid), data: cField(o.snapshotTag, SD_MAX_VDI_TAG_LEN), offset: INODE_OFF.tag,
    copies: h.nrCopies, copyPolicy: h.copyPolicy, create: false, direct: false,
  });
  if (tagged !== SD_RES.SUCCESS) return EXIT.FAILURE;
  const c = await newVdi(dog, {
    name, size: inode.readBigUInt64LE(INODE_OFF.vdiSize), baseVid: vid, snapshot: true,
    copies: h.nrCopies, copyPolicy: h.copyPolicy, storePolicy: h.storePolicy, blockSizeShift: h.blockSizeShift,
  });
  if (c.code === EXIT.SUCCESS && dog.verbose) {
    const n = c.vid.toString(16), old = vid.toString(16);
    out(dog.raw ? `${n} ${old}\n` : `new VID of original VDI: ${n}, VDI ID of newly created snapshot: ${old}\n`);
  }
  return c.code;
}
