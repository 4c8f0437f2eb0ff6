/** dog cluster check: vdi check of every VDI and snapshot, in vid order (cli.md §2.5.7). */
import { isSnapshot } from '../../shared/inode.js';
import { vidToVdiOid } from '../../shared/oid.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { readObject } from '../object-io.js';
import { out } from '../output.js';
import { checkVdi, type CheckReport } from '../vdi/check.js';
import { hexId, printJson } from '../json.js';
import { INODE_WITH_INDEX } from '../vdi/read.js';
import { walkVdis, type VdiInfo } from '../vdi/walk.js';

export async function run(dog: Dog): Promise<number> {
  const vdis: VdiInfo[] = [];
  if (!(await walkVdis(dog, false, (v) => vdis.push(v)))) return EXIT.SYSFAIL;
  const checked: Record<string, unknown>[] = [];
  for (const { vid, header: h } of vdis) {
    if (!dog.json) out(isSnapshot(h) ? `fix snapshot ${h.name} (id: ${h.snapId}, tag: "${h.tag}")\n` : `fix vdi ${h.name}\n`);
    const r = await readObject(dog, vidToVdiOid(vid), INODE_WITH_INDEX, 0, true);
    const report: CheckReport = { fixed: [], errors: [] };
    const entry = {
      name: h.name, type: isSnapshot(h) ? 'snapshot' : 'vdi', snap_id: isSnapshot(h) ? h.snapId : 0, tag: h.tag,
      vdi_id: hexId(vid),
    };
    if (r.result !== SD_RES.SUCCESS) {
      checked.push({ ...entry, status: 'unreadable', fixed: [], errors: [resultText(r.result)] });
      continue;
    }
    const ret = await checkVdi(dog, r.data, dog.json ? report : undefined);
    checked.push({
      ...entry,
      status: ret === EXIT.SUCCESS ? 'checked' : 'failed',
      fixed: report.fixed.map((f) => ({ oid: hexId(f.oid), kind: f.missing ? 'missing' : 'replica', copy_index: f.copyIndex })),
      errors: report.errors,
    });
  }
  if (dog.json) printJson(checked);
  return EXIT.SUCCESS;
}
