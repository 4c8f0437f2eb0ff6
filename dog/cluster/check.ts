/** dog cluster check: vdi check of every VDI and snapshot, in vid order (cli.md §2.5.7). */
import { isSnapshot } from '../../shared/inode.js';
import { vidToVdiOid } from '../../shared/oid.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { readObject } from '../object-io.js';
import { out } from '../output.js';
import { checkVdi } from '../vdi/check.js';
import { INODE_WITH_INDEX } from '../vdi/read.js';
import { walkVdis, type VdiInfo } from '../vdi/walk.js';

export async function run(dog: Dog): Promise<number> {
  const vdis: VdiInfo[] = [];
  if (!(await walkVdis(dog, false, (v) => vdis.push(v)))) return EXIT.SYSFAIL;
  for (const { vid, header: h } of vdis) {
    out(isSnapshot(h) ? `fix snapshot ${h.name} (id: ${h.snapId}, tag: "${h.tag}")\n` : `fix vdi ${h.name}\n`);
    const r = await readObject(dog, vidToVdiOid(vid), INODE_WITH_INDEX, 0, true);
    if (r.result !== SD_RES.SUCCESS) continue;
    await checkVdi(dog, r.data);
  }
  return EXIT.SUCCESS;
}
