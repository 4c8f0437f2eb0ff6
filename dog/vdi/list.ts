/** dog vdi list [-r] [-o oid] [vdiname] (cli.md §2.7.7). */
import { rpad } from '../../shared/cformat.js';
import { isSnapshot, type InodeHeader } from '../../shared/inode.js';
import { isDataObj, oidToVid, dataOidToIdx } from '../../shared/oid.js';
import { formatSize } from '../../shared/size.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { out } from '../output.js';
import { redundancyText } from '../option-values.js';
import { padEndBytes, padStartBytes } from '../text.js';
import { strftime } from '../../shared/ctime.js';
import type { InodeIndex } from './inode-index.js';
import { walkVdis } from './walk.js';

export const VDI_LIST_HEADER =
  '  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies  Tag   Block Size Shift\n';

/** Objects owned by the VDI itself, and those it shares with ancestors. */
export function countObjects(index: InodeIndex, vdiId: number): { own: number; shared: number } {
  let own = 0, shared = 0;
  for (const [, vid] of index.entries()) {
    if (vid === vdiId) own++;
    else shared++;
  }
  return { own, shared };
}

export const isCloneInode = (h: InodeHeader): boolean => h.snapId === 1 && h.parentVdiId !== 0;

/** Raw-mode names escape white space and backslashes with a backslash. */
export function escapeRawName(name: string): string {
  return name.replace(/[ \t\n\v\f\r\\]/g, (c) => `\\${c}`);
}

export interface ListRow {
  header: InodeHeader;
  vid: number;
  vdiSize: bigint;
  own: number;
  shared: number;
}

/** One `vdi list` line (with its newline). */
export function vdiListRow(r: ListRow, raw: boolean): string {
  const h = r.header;
  const objSize = 2n ** BigInt(h.blockSizeShift);
  const snapid = isSnapshot(h) ? h.snapId : 0;
  const size = formatSize(r.vdiSize, raw);
  const used = formatSize(BigInt(r.own) * objSize, raw);
  const shared = formatSize(BigInt(r.shared) * objSize, raw);
  const secs = Number(h.createTime >> 32n);
  const redundancy = redundancyText(h.nrCopies, h.copyPolicy);
  const vid = r.vid.toString(16);
  if (raw) {
    const flag = isSnapshot(h) ? 's' : isCloneInode(h) ? 'c' : '=';
    return `${flag} ${escapeRawName(h.name)} ${snapid} ${size} ${used} ${shared} ${secs} ${vid} ${redundancy} ${h.tag} ${h.blockSizeShift}\n`;
  }
  const flag = isSnapshot(h) ? 's' : isCloneInode(h) ? 'c' : ' ';
  const date = strftime('%Y-%m-%d %H:%M', secs);
  return `${flag} ${padEndBytes(h.name, 8)} ${rpad(snapid, 5)} ${rpad(size, 7)} ${rpad(used, 7)} ${rpad(shared, 7)} ` +
    `${date}  ${rpad(vid, 7)} ${rpad(redundancy, 6)} ${padStartBytes(h.tag, 13)} ${rpad(h.blockSizeShift, 3)}\n`;
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const name = args[0];
  const oid = dog.opts.oid;
  if (!dog.raw) out(VDI_LIST_HEADER);
  if (name === undefined && oid !== undefined && !isDataObj(oid)) return EXIT.FAILURE;
  const ok = await walkVdis(dog, true, (v) => {
    if (name !== undefined) {
      if (v.header.name !== name) return;
    } else if (oid !== undefined) {
      const owner = v.index!.vidAt(dataOidToIdx(oid));
      if (owner === 0 || owner !== oidToVid(oid)) return;
    }
    const { own, shared } = countObjects(v.index!, v.header.vdiId);
    out(vdiListRow({ header: v.header, vid: v.vid, vdiSize: v.vdiSize, own, shared }, dog.raw));
  });
  return ok ? EXIT.SUCCESS : EXIT.SYSFAIL;
}
