/** dog vdi list [-r] [-o oid] [vdiname] (cli.md §2.7.7). */
import { isDataObj, oidToVid, dataOidToIdx } from '../../shared/oid.js';
import { VDI_LIST_HEADER, vdiListJson, vdiListRow, type ListRow } from '../../shared/report-text.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { printJson } from '../json.js';
import { out } from '../output.js';
import type { InodeIndex } from './inode-index.js';
import { walkVdis } from './walk.js';


/** Objects owned by the VDI itself, and those it shares with ancestors. */
export function countObjects(index: InodeIndex, vdiId: number): { own: number; shared: number } {
  let own = 0, shared = 0;
  for (const [, vid] of index.entries()) {
    if (vid === vdiId) own++;
    else shared++;
  }
  return { own, shared };
}





export async function run(dog: Dog, args: string[]): Promise<number> {
  const name = args[0];
  const oid = dog.opts.oid;
  if (!dog.raw && !dog.json) out(VDI_LIST_HEADER);
  const rows: ListRow[] = [];
  if (name === undefined && oid !== undefined && !isDataObj(oid)) return EXIT.FAILURE;
  const ok = await walkVdis(dog, true, (v) => {
    if (name !== undefined) {
      if (v.header.name !== name) return;
    } else if (oid !== undefined) {
      const owner = v.index!.vidAt(dataOidToIdx(oid));
      if (owner === 0 || owner !== oidToVid(oid)) return;
    }
    const { own, shared } = countObjects(v.index!, v.header.vdiId);
    const row = { header: v.header, vid: v.vid, vdiSize: v.vdiSize, own, shared };
    if (dog.json) rows.push(row);
    else out(vdiListRow(row, dog.raw));
  });
  if (dog.json && ok) printJson(rows.map(vdiListJson));
  return ok ? EXIT.SUCCESS : EXIT.SYSFAIL;
}
