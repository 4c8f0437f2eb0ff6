/** dog node info: store size and use of every node (cli.md §2.6.3). */
import { isSnapshot } from '../../shared/inode.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { formatSize } from '../../shared/size.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { walkVdis } from '../vdi/walk.js';

export const NODE_INFO_HEADER = 'Id\tSize\tUsed\tAvail\tUse%\n';

/** Use% as the original computes it: (size - free) / size * 100 in double, truncated; 0 for size 0. */
export function usePercent(size: bigint, free: bigint): number {
  if (size === 0n) return 0;
  return Math.trunc((Number(size - free) / Number(size)) * 100);
}

export function nodeInfoRow(id: number, size: bigint, free: bigint, raw: boolean): string {
  const used = size - free;
  const pct = usePercent(size, free);
  if (raw) return `${id} ${formatSize(size, true)} ${formatSize(used, true)} ${formatSize(free, true)} ${pct}%\n`;
  return `${String(id).padStart(2)}\t${formatSize(size)}\t${formatSize(used)}\t${formatSize(free)}\t${String(pct).padStart(3)}%\n`;
}

export function nodeInfoTotal(size: bigint, free: bigint, vdiTotal: bigint, raw: boolean): string {
  const used = size - free;
  const pct = usePercent(size, free);
  if (raw) {
    return `Total ${formatSize(size, true)} ${formatSize(used, true)} ${formatSize(free, true)} ${pct}% ${formatSize(vdiTotal, true)}\n`;
  }
  return `Total\t${formatSize(size)}\t${formatSize(used)}\t${formatSize(free)}\t${String(pct).padStart(3)}%\n\n` +
    `Total virtual image size\t${formatSize(vdiTotal)}\n`;
}

export async function run(dog: Dog): Promise<number> {
  if (!dog.raw) out(NODE_INFO_HEADER);
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
    out(nodeInfoRow(answered, size, free, dog.raw));
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
  out(nodeInfoTotal(totalSize, totalFree, vdiTotal, dog.raw));
  return EXIT.SUCCESS;
}

