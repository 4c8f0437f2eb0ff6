/** dog node info: store size and use of every node (cli.md §2.6.3). */
import { isSnapshot } from '../../shared/inode.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { NODE_INFO_HEADER, nodeInfoRow, nodeInfoTotal, storeJson } from '../../shared/report-text.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { printJson } from '../json.js';
import { err, out } from '../output.js';
import { walkVdis } from '../vdi/walk.js';





export async function run(dog: Dog): Promise<number> {
  if (!dog.raw && !dog.json) out(NODE_INFO_HEADER);
  const nodes: Record<string, unknown>[] = [];
  // every node is asked at once; the answers are printed in node order
  const replies = await Promise.all(dog.nodes.map((n) => dog.exec(SdHeader.request(SD_OP.STAT_SHEEP), undefined, dog.nodeTarget(n))));
  let answered = 0;
  let totalSize = 0n, totalFree = 0n;
  for (const r of replies) {
    if (!r) continue;
    if (r.hdr.result !== SD_RES.SUCCESS) {
      err(`Response's result: ${resultText(r.hdr.result)}`);
      continue;
    }
    const size = r.hdr.rspStoreSize;
    const free = r.hdr.rspStoreFree;
    if (dog.json) nodes.push({ id: answered, ...storeJson(size, free) });
    else out(nodeInfoRow(answered, size, free, dog.raw));
    answered++;
    totalSize += size;
    totalFree += free;
  }
  if (answered === 0) {
    err('Cannot get information from any nodes');
    return EXIT.SYSFAIL;
  }
  let vdiTotal = 0n;
  const ok = await walkVdis(dog, false, (v) => {
    if (!isSnapshot(v.header)) vdiTotal += v.vdiSize;
  });
  if (!ok) return EXIT.SYSFAIL;
  if (dog.json) printJson({ nodes, total: storeJson(totalSize, totalFree), vdi_size_total: vdiTotal });
  else out(nodeInfoTotal(totalSize, totalFree, vdiTotal, dog.raw));
  return EXIT.SUCCESS;
}

