/** dog vdi alter-copy -c N [-f] <vdiname>: change one VDI's number of copies (cli.md §2.7.19). */
import { decodeInodeHeader, INODE_OFF } from '../../shared/inode.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { SD_INODE_HEADER_SIZE, vidToVdiOid } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { writeObject } from '../object-io.js';
import { err, out } from '../output.js';
import { banner, confirm } from '../prompt.js';
import { nodesPrompt } from '../cluster/alter-copy.js';
import { readVdiObj } from './open.js';
import { walkVdis } from './walk.js';

export async function run(dog: Dog, args: string[]): Promise<number> {
  const o = dog.opts;
  const name = args[0]!;
  if (o.copyPolicy !== 0) {
    err('Changing redundancy level of erasure coded vdi is not supported yet.');
    return EXIT.USAGE;
  }
  let copies = o.copies;
  if (!copies) {
    copies = 3;
    out("The vdi's redundancy level is not specified, use 3 as default.\n");
  }
  if (copies > dog.nodes.length && !o.force) confirm(nodesPrompt(copies, dog.nodes.length));
  const opened = await readVdiObj(dog, name, 0, '', SD_INODE_HEADER_SIZE);
  if (!opened) {
    err(`Reading ${name}'s vdi object failure.`);
    return EXIT.FAILURE;
  }
  const h = decodeInodeHeader(opened.inode);
  if (h.copyPolicy !== 0) {
    err(`${name}'s copy policy is erasure code, changing it is not supported yet.`);
    return EXIT.FAILURE;
  }
  if (h.nrCopies === copies) {
    err(`${name}'s redundancy level is already set to ${copies}, nothing changed.`);
    return EXIT.FAILURE;
  }
  let hasChildren = false;
  if (!(await walkVdis(dog, false, (v) => { if (v.header.parentVdiId === opened.vid) hasChildren = true; }))) {
    return EXIT.SYSFAIL;
  }
  if (h.parentVdiId !== 0 || hasChildren) {
    err('Only standalone vdi supports changing redundancy level.');
    err(`Please clone ${name} with -n (--no-share) option first.`);
    return EXIT.FAILURE;
  }
  if (!o.force) {
    confirm(banner("Caution! Changing VDI's redundancy level will affect", 'the VDI itself only and trigger recovery.',
      'Are you sure you want to continue?'));
  }
  const header = Buffer.from(opened.inode.subarray(0, SD_INODE_HEADER_SIZE));
  header[INODE_OFF.nrCopies] = copies;
  const w = await writeObject(dog, {
    oid: vidToVdiOid(opened.vid), data: header, offset: 0, copies: h.nrCopies, copyPolicy: 0, create: false, direct: true,
  });
  const a = SdHeader.request(SD_OP.ALTER_VDI_COPY);
  a.stateOldVid = 0;
  a.stateNewVid = opened.vid;
  a.stateCopies = copies;
  a.stateSetBitmap = 0;
  a.stateCopyPolicy = 0;
  a.stateBlockSizeShift = h.blockSizeShift;
  const r = w === SD_RES.SUCCESS ? await dog.exec(a) : undefined;
  if (!r || r.hdr.result !== SD_RES.SUCCESS) {
    err(`Changing ${name}'s redundancy level failure.`);
    return EXIT.FAILURE;
  }
  err(`${name}'s redundancy level is set to ${copies}, the old one was ${h.nrCopies}.`);
  return EXIT.SUCCESS;
}
