/**
 * The text reports `dog` prints (cluster info, node list, node info, vdi list)
 * as pure functions of decoded replies, for programs other than dog that show
 * the same text: sheepfs's cluster/info, node/list, node/info and vdi/list are
 * "as dog prints them" (cli.md §2.5.1, §2.6.2, §2.6.3, §2.7.7, §3.2).
 *
 * dog has its own copies of these renderers (dog/cluster/info.ts,
 * dog/node/*.ts, dog/vdi/list.ts); its golden tests pin the format, and the
 * sheepfs tests compare the two outputs byte for byte, so a drift shows up.
 */
import { lpad, rpad } from './cformat.js';
import { isSnapshot, type InodeHeader } from './inode.js';
import { nodeAddrString, type SdNode } from './node.js';
import type { EpochLog } from './proto/cluster-info.js';
import { SD_RES, resultText } from './proto/results.js';
import { formatSize } from './size.js';
import { ctime, strftime } from './ctime.js';

const byteLen = (s: string): number => Buffer.byteLength(s, 'utf8');
/** `%-Ns` counting bytes, as C does for UTF-8 names. */
export const padEndBytes = (s: string, w: number): string => (byteLen(s) >= w ? s : s + ' '.repeat(w - byteLen(s)));
/** `%Ns` counting bytes. */
export const padStartBytes = (s: string, w: number): string => (byteLen(s) >= w ? s : ' '.repeat(w - byteLen(s)) + s);

/** Copies (`3`) or erasure-coding policy (`4:2`), as dog prints redundancy. */
export function redundancyText(copies: number, policy: number): string {
  if (policy === 0) return String(copies);
  return `${(policy >> 4) * 2}:${policy & 0x0f}`;
}

/** `dog cluster info` (no flags) for a STAT_CLUSTER result and its epoch records, newest first. */
export function clusterInfoText(result: number, logs: readonly EpochLog[]): string {
  const first = logs[0];
  let s = 'Cluster status: ';
  s += result === SD_RES.SUCCESS
    ? `running, auto-recovery ${first?.disableRecovery ? 'disabled' : 'enabled'}\n`
    : `${resultText(result)}\n`;
  s += '\n';
  if (first) {
    s += `Cluster created at ${ctime(Number(first.ctime >> 32n))}\n`;
    s += 'Epoch Time           Version [Host:Port:V-Nodes,,,]\n';
  }
  for (const log of logs) {
    const nodes = log.nodes.map((n) => `${nodeAddrString(n)}:${n.nrVnodes}`).join(', ');
    s += `${strftime('%Y-%m-%d %H:%M:%S', Number(log.time))} ${rpad(log.epoch, 6)} [${nodes}]\n`;
  }
  return s;
}

/** `dog node list`. */
export function nodeListText(nodes: readonly SdNode[]): string {
  let s = '  Id   Host:Port         V-Nodes       Zone\n';
  nodes.forEach((n, i) => {
    s += `${rpad(i, 4)}   ${lpad(nodeAddrString(n), 20)}\t${rpad(n.nrVnodes, 2)}${rpad(n.zone >>> 0, 11)}\n`;
  });
  return s;
}

function usePercent(size: bigint, free: bigint): number {
  if (size === 0n) return 0;
  return Math.trunc((Number(size - free) / Number(size)) * 100);
}

/** `dog node info`: one {size, free} per answering node, in node order, and the live VDIs' total size. */
export function nodeInfoText(stores: readonly { size: bigint; free: bigint }[], vdiTotal: bigint): string {
  const row = (label: string, size: bigint, free: bigint): string =>
    `${label}\t${formatSize(size)}\t${formatSize(size - free)}\t${formatSize(free)}\t${String(usePercent(size, free)).padStart(3)}%\n`;
  let s = 'Id\tSize\tUsed\tAvail\tUse%\n';
  let size = 0n, free = 0n;
  stores.forEach((st, i) => {
    s += row(String(i).padStart(2), st.size, st.free);
    size += st.size;
    free += st.free;
  });
  s += row('Total', size, free);
  s += `\nTotal virtual image size\t${formatSize(vdiTotal)}\n`;
  return s;
}

export const VDI_LIST_HEADER =
  '  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies  Tag   Block Size Shift\n';

/** One `dog vdi list` row: `own` and `shared` count the index slots owned by the VDI and by ancestors. */
export function vdiListRow(h: InodeHeader, vid: number, vdiSize: bigint, own: number, shared: number): string {
  const objSize = 2n ** BigInt(h.blockSizeShift);
  const snap = isSnapshot(h);
  const flag = snap ? 's' : h.snapId === 1 && h.parentVdiId !== 0 ? 'c' : ' ';
  const secs = Number(h.createTime >> 32n);
  return `${flag} ${padEndBytes(h.name, 8)} ${rpad(snap ? h.snapId : 0, 5)} ${rpad(formatSize(vdiSize), 7)} ` +
    `${rpad(formatSize(BigInt(own) * objSize), 7)} ${rpad(formatSize(BigInt(shared) * objSize), 7)} ` +
    `${strftime('%Y-%m-%d %H:%M', secs)}  ${rpad(vid.toString(16), 7)} ${rpad(redundancyText(h.nrCopies, h.copyPolicy), 6)} ` +
    `${padStartBytes(h.tag, 13)} ${rpad(h.blockSizeShift, 3)}\n`;
}
