/**
 * The text reports of `dog` (cluster info, node list, node info, vdi list) as
 * pure functions of decoded replies. dog prints them; sheepfs shows the same
 * text in cluster/info, node/list, node/info and vdi/list ("as dog prints
 * them", cli.md §2.5.1, §2.6.2, §2.6.3, §2.7.7, §3.2). Golden tests pin them.
 */
import { lpad, rpad } from './cformat.js';
import { ctime, strftime } from './ctime.js';
import { isSnapshot, type InodeHeader } from './inode.js';
import { addrToString, nodeAddrString, nodeKey, type SdNode } from './node.js';
import type { EpochLog } from './proto/cluster-info.js';
import { SD_CLUSTER_FLAG } from './proto/flags.js';
import { SD_RES, resultText } from './proto/results.js';
import { formatSize } from './size.js';

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

// --- cluster info ---------------------------------------------------------------

export interface ClusterInfoOptions {
  raw: boolean;
  verbose: boolean;
  diff: boolean;
}

const nodesText = (nodes: readonly SdNode[]): string =>
  nodes.map((n) => `${nodeAddrString(n)}:${n.nrVnodes}`).join(', ');

/** `-d`: who joined (+) and who left (-) since the next older epoch; no separator between the groups. */
export function epochDiffText(newer: readonly SdNode[], older: readonly SdNode[] | undefined): string {
  if (!older) return 'formated';
  const inOlder = new Set(older.map(nodeKey));
  const inNewer = new Set(newer.map(nodeKey));
  const added = newer.filter((n) => !inOlder.has(nodeKey(n))).map((n) => `+${nodeAddrString(n)}`);
  const removed = older.filter((n) => !inNewer.has(nodeKey(n))).map((n) => `-${nodeAddrString(n)}`);
  return added.join(', ') + removed.join(', ');
}

/** `dog cluster info` for a STAT_CLUSTER result and its epoch records (newest first). */
export function renderClusterInfo(result: number, logs: readonly EpochLog[], o: ClusterInfoOptions): string {
  const first = logs[0];
  const flags = first?.flags ?? 0;
  let s = o.raw ? '' : 'Cluster status: ';
  s += result === SD_RES.SUCCESS
    ? `running, auto-recovery ${first?.disableRecovery ? 'disabled' : 'enabled'}\n`
    : `${resultText(result)}\n`;
  if (o.verbose) {
    const label = (l: string): string => (o.raw ? '' : l);
    if (result === SD_RES.SUCCESS) {
      s += `${label('Cluster store: ')}${first?.drvName ?? ''} with ` +
        `${redundancyText(first?.nrCopies ?? 0, first?.copyPolicy ?? 0)} redundancy policy\n`;
      s += `${label('Cluster vnodes strategy: ')}${flags & SD_CLUSTER_FLAG.AUTO_VNODES ? 'auto' : 'fixed'}\n`;
    } else {
      s += `${label('Cluster store: ')}${resultText(result)}\n`;
    }
    s += `${label('Cluster vnode mode: ')}${flags & SD_CLUSTER_FLAG.DISKMODE ? 'disk' : 'node'}\n`;
  } else {
    s += '\n';
  }
  if (!o.raw && first) {
    s += `Cluster created at ${ctime(Number(first.ctime >> 32n))}\n`;
    s += 'Epoch Time           Version [Host:Port:V-Nodes,,,]\n';
  }
  logs.forEach((log, i) => {
    const secs = Number(log.time);
    const nodes = o.diff ? epochDiffText(log.nodes, logs[i + 1]?.nodes) : nodesText(log.nodes);
    s += o.raw
      ? `${secs} ${log.epoch} [${nodes}]\n`
      : `${strftime('%Y-%m-%d %H:%M:%S', secs)} ${rpad(log.epoch, 6)} [${nodes}]\n`;
  });
  return s;
}

/**
 * `cluster info --format json` (man/dog.8): the status, the newest epoch's
 * settings, and every epoch with its members (newest first). -v and -d change
 * only the text; the JSON always has everything.
 */
export function clusterInfoJson(result: number, logs: readonly EpochLog[]): Record<string, unknown> {
  const first = logs[0];
  const running = result === SD_RES.SUCCESS;
  const flags = first?.flags ?? 0;
  return {
    status: running ? 'running' : resultText(result),
    result,
    auto_recovery: running ? !first?.disableRecovery : undefined,
    store: running ? first?.drvName ?? '' : undefined,
    copies: running ? first?.nrCopies ?? 0 : undefined,
    copy_policy: running ? first?.copyPolicy ?? 0 : undefined,
    redundancy: running ? redundancyText(first?.nrCopies ?? 0, first?.copyPolicy ?? 0) : undefined,
    vnodes_strategy: running ? (flags & SD_CLUSTER_FLAG.AUTO_VNODES ? 'auto' : 'fixed') : undefined,
    vnode_mode: flags & SD_CLUSTER_FLAG.DISKMODE ? 'disk' : 'node',
    creation_time: first ? Number(first.ctime >> 32n) : undefined,
    epochs: logs.map((log) => ({
      epoch: log.epoch,
      time: Number(log.time),
      nodes: log.nodes.map((n) => ({ ...nodeJson(n), vnodes: n.nrVnodes })),
    })),
  };
}

// --- node list and node info ------------------------------------------------------

export const NODE_LIST_HEADER = '  Id   Host:Port         V-Nodes       Zone\n';

/** One row: `%4d   %-20s\t%2d%11u`, or `id host:port vnodes zone` in raw mode. */
export function nodeListRow(id: number, n: SdNode, raw: boolean): string {
  const addr = nodeAddrString(n);
  const zone = n.zone >>> 0;
  if (raw) return `${id} ${addr} ${n.nrVnodes} ${zone}\n`;
  return `${rpad(id, 4)}   ${lpad(addr, 20)}\t${rpad(n.nrVnodes, 2)}${rpad(zone, 11)}\n`;
}

/** A node's address as JSON (man/dog.8): host, port, and the I/O address when it has one. */
export function nodeJson(n: SdNode): Record<string, unknown> {
  const o: Record<string, unknown> = { host: addrToString(n.addr), port: n.port };
  if (n.ioPort !== 0) {
    o.io_host = addrToString(n.ioAddr);
    o.io_port = n.ioPort;
  }
  return o;
}

/** `node list --format json`: one entry per member, in node order. */
export function nodeListJson(nodes: readonly SdNode[]): Record<string, unknown>[] {
  return nodes.map((n, i) => ({ id: i, ...nodeJson(n), vnodes: n.nrVnodes, zone: n.zone >>> 0 }));
}

/** One node's store in `node info --format json`. */
export function storeJson(size: bigint, free: bigint): Record<string, unknown> {
  return { size, used: size - free, avail: free, use_percent: usePercent(size, free) };
}

export function renderNodeList(nodes: readonly SdNode[], raw: boolean): string {
  return (raw ? '' : NODE_LIST_HEADER) + nodes.map((n, i) => nodeListRow(i, n, raw)).join('');
}

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

/** `dog node info` when every node answered: one {size, free} per node, in node order. */
export function renderNodeInfo(stores: readonly { size: bigint; free: bigint }[], vdiTotal: bigint, raw: boolean): string {
  let s = raw ? '' : NODE_INFO_HEADER;
  let size = 0n, free = 0n;
  stores.forEach((st, i) => {
    s += nodeInfoRow(i, st.size, st.free, raw);
    size += st.size;
    free += st.free;
  });
  return s + nodeInfoTotal(size, free, vdiTotal, raw);
}

// --- vdi list -------------------------------------------------------------------

export const VDI_LIST_HEADER =
  '  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies  Tag   Block Size Shift\n';

export const isCloneInode = (h: InodeHeader): boolean => h.snapId === 1 && h.parentVdiId !== 0;

/** Raw-mode names escape white space and backslashes with a backslash. */
export function escapeRawName(name: string): string {
  return name.replace(/[ \t\n\v\f\r\\]/g, (c) => `\\${c}`);
}

export interface ListRow {
  header: InodeHeader;
  vid: number;
  vdiSize: bigint;
  /** index slots owned by the VDI itself, and by its ancestors */
  own: number;
  shared: number;
}

/** One `vdi list` entry as `--format json` gives it (man/dog.8): the fields of the line, unformatted. */
export function vdiListJson(r: ListRow): Record<string, unknown> {
  const h = r.header;
  const objSize = 2n ** BigInt(h.blockSizeShift);
  return {
    name: h.name,
    type: isSnapshot(h) ? 'snapshot' : isCloneInode(h) ? 'clone' : 'vdi',
    snap_id: isSnapshot(h) ? h.snapId : 0,
    tag: h.tag,
    vdi_id: r.vid.toString(16),
    parent_vdi_id: h.parentVdiId.toString(16),
    size: r.vdiSize,
    used: BigInt(r.own) * objSize,
    shared: BigInt(r.shared) * objSize,
    creation_time: Number(h.createTime >> 32n),
    copies: h.nrCopies,
    copy_policy: h.copyPolicy,
    redundancy: redundancyText(h.nrCopies, h.copyPolicy),
    block_size_shift: h.blockSizeShift,
    hyper: h.storePolicy === 1,
  };
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
