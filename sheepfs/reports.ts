/**
 * The text files of the tree: what each contains, asked from the cluster
 * directly (the original ran `dog` for these; sheepfs uses the protocol, with
 * dog's text from shared/report-text.ts).
 */
import { SdError } from '../shared/errors.js';
import { isSnapshot } from '../shared/inode.js';
import { compareNodes, decodeNodes, nodeAddrString, nodeIoTarget, SD_MAX_NODES, SD_NODE_SIZE, type SdNode } from '../shared/node.js';
import { isDataObj, vidToDataOid } from '../shared/oid.js';
import { epochLogStride } from '../shared/proto/cluster-info.js';
import { requestEpochLogs } from '../shared/epoch-logs.js';
import { requestGrowing } from '../shared/grow-reply.js';
import { SdHeader } from '../shared/proto/header.js';
import { decodeOidList } from '../shared/proto/obj-list.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../shared/proto/results.js';
import { decodeStat, SD_STAT_SIZE } from '../shared/proto/stat.js';
import {
  redundancyText, renderClusterInfo, renderNodeInfo, renderNodeList, VDI_LIST_HEADER, vdiListRow,
} from '../shared/report-text.js';
import { strftime } from '../shared/ctime.js';
import { formatSize } from '../shared/size.js';
import { countOwn, readIndex, type Catalogue, type VdiEntry } from './catalogue.js';
import type { SheepLink } from './link.js';

/** Members, sorted as dog lists them. */
export async function nodeList(link: SheepLink): Promise<SdNode[]> {
  const r = await link.call(SdHeader.request(SD_OP.GET_NODE_LIST, 0, SD_MAX_NODES * SD_NODE_SIZE));
  return decodeNodes(r.data, Math.floor(r.data.length / SD_NODE_SIZE)).sort(compareNodes);
}

export async function clusterInfo(link: SheepLink): Promise<string> {
  const nodes = await nodeList(link);
  const first = SdHeader.request(SD_OP.STAT_CLUSTER, 0, epochLogStride(0));
  first.clusterNodesNr = 0;
  const epoch = (await link.request(first)).hdr.epoch;
  const { reply, logs } = await requestEpochLogs((h) => link.request(h), {
    epochs: Math.max(1, epoch), firstNodes: Math.max(1, nodes.length), maxNodes: SD_MAX_NODES,
  });
  return renderClusterInfo(reply!.hdr.result, logs, { raw: false, verbose: false, diff: false });
}

export async function nodeListReport(link: SheepLink): Promise<string> {
  return renderNodeList(await nodeList(link), false);
}

export async function nodeInfo(link: SheepLink, catalogue: Catalogue): Promise<string> {
  const nodes = await nodeList(link);
  const replies = await Promise.all(nodes.map((n) =>
    link.request(SdHeader.request(SD_OP.STAT_SHEEP), undefined, { to: nodeIoTarget(n) }).catch(() => undefined)));
  const stores = replies.filter((r) => r && r.hdr.result === SD_RES.SUCCESS)
    .map((r) => ({ size: r!.hdr.rspStoreSize, free: r!.hdr.rspStoreFree }));
  const listing = await catalogue.listing();
  let total = 0n;
  for (const e of listing.all) if (!isSnapshot(e.header)) total += e.vdiSize;
  return renderNodeInfo(stores, total, false);
}

/** GET_OBJ_LIST buffers: from 1 MiB, four times larger each round, up to 256 MiB. */
const OBJ_LIST_FIRST_BYTES = 1 << 20;
const OBJ_LIST_MAX_BYTES = 1 << 28;

/** Every object id a node stores (GET_OBJ_LIST). */
async function objectList(link: SheepLink, n: SdNode): Promise<bigint[]> {
  const { reply: r } = await requestGrowing(
    (len) => link.request(SdHeader.request(SD_OP.GET_OBJ_LIST, 0, len), undefined, { to: nodeIoTarget(n) }),
    { first: OBJ_LIST_FIRST_BYTES, max: OBJ_LIST_MAX_BYTES, factor: 4 },
  );
  if (r!.hdr.result !== SD_RES.SUCCESS) throw new SdError(r!.hdr.result);
  return decodeOidList(r!.data);
}

/**
 * node/stat: per node, the request counters (`dog node stat` on each node,
 * with the read and write columns under their right headings) and how many
 * objects it stores.
 */
export async function nodeStat(link: SheepLink): Promise<string> {
  const nodes = await nodeList(link);
  const rows = await Promise.all(nodes.map(async (n, i) => {
    const addr = nodeAddrString(n);
    try {
      const [st, objs] = await Promise.all([
        link.call(SdHeader.request(SD_OP.STAT, 0, SD_STAT_SIZE), undefined, { to: nodeIoTarget(n) }).then((r) => decodeStat(r.data)),
        objectList(link, n),
      ]);
      const data = objs.filter(isDataObj).length;
      const client = `Client\t${st.gwayActive}\t${st.gwayTotal}\t${st.gwayRead}\t${st.gwayWrite}\t${st.gwayRemove}\t${st.gwayFlush}\t${formatSize(st.gwayRx)}\t${formatSize(st.gwayTx)}`;
      const peer = `Peer\t${st.peerActive}\t${st.peerTotal}\t${st.peerRead}\t${st.peerWrite}\t${st.peerRemove}\t0\t${formatSize(st.peerRx)}\t${formatSize(st.peerTx)}`;
      return `${String(i).padStart(2)}\t${addr}\t${objs.length}\t${data}\t${client}\n\t\t\t\t${peer}\n`;
    } catch (e) {
      const why = e instanceof SdError ? resultText(e.code) : (e as Error).message;
      return `${String(i).padStart(2)}\t${addr}\t-\t-\t${why}\n`;
    }
  }));
  return 'Id\tHost:Port\tObjects\tData\tRequest\tActive\tTotal\tRead\tWrite\tRemove\tFlush\tAll WR\tAll RD\n' + rows.join('');
}

export async function vdiList(link: SheepLink, catalogue: Catalogue): Promise<string> {
  const listing = await catalogue.listing();
  const rows = await Promise.all(listing.all.map(async (e) => {
    const { own, shared } = countOwn(await readIndex(link, e.vid, e.header), e.vid);
    return vdiListRow({ header: e.header, vid: e.vid, vdiSize: e.vdiSize, own, shared }, false);
  }));
  return VDI_LIST_HEADER + rows.join('');
}

/** vdi/<name>/info: the VDI's attributes, one `Key: value` per line. */
export async function vdiInfo(link: SheepLink, catalogue: Catalogue, e: VdiEntry): Promise<string> {
  const h = e.header;
  const index = await readIndex(link, e.vid, h);
  const { own, shared } = countOwn(index, e.vid);
  const objSize = 2 ** h.blockSizeShift;
  const parent = h.parentVdiId ? (await catalogue.listing()).all.find((p) => p.vid === h.parentVdiId) : undefined;
  const parentText = h.parentVdiId === 0 ? 'none'
    : `${parent ? parent.header.name : '?'} (vid ${h.parentVdiId.toString(16)}${parent && isSnapshot(parent.header) ? `, snapshot ${parent.header.snapId}${parent.header.tag ? ` tag ${parent.header.tag}` : ''}` : ''})`;
  const redundancy = h.copyPolicy === 0 ? `${h.nrCopies} copies` : `erasure coded ${redundancyText(h.nrCopies, h.copyPolicy)}`;
  const created = strftime('%Y-%m-%d %H:%M:%S', Number(h.createTime >> 32n));
  return [
    `Name: ${h.name}`,
    `VDI id: ${e.vid.toString(16)}`,
    `Size: ${e.vdiSize} (${formatSize(e.vdiSize)})`,
    `Redundancy: ${redundancy}`,
    `Block size shift: ${h.blockSizeShift} (${objSize} byte objects)`,
    `Parent: ${parentText}`,
    `Snapshot: ${isSnapshot(h) ? `yes, id ${h.snapId}${h.tag ? `, tag ${h.tag}` : ''}` : 'no'}`,
    `Created: ${created}`,
    `Used: ${own} objects (${formatSize(BigInt(own) * BigInt(objSize))})`,
    `Shared: ${shared} objects (${formatSize(BigInt(shared) * BigInt(objSize))})`,
    '',
  ].join('\n');
}

/**
 * vdi/<name>/objects: every allocated data object, its owner (the VDI or an
 * ancestor it shares the object with) and the nodes that store it, as the
 * nodes themselves report (GET_OBJ_LIST).
 */
export async function vdiObjects(link: SheepLink, e: VdiEntry): Promise<string> {
  const index = await readIndex(link, e.vid, e.header);
  const nodes = await nodeList(link);
  const holders = new Map<bigint, string[]>();
  const lists = await Promise.all(nodes.map((n) => objectList(link, n).catch(() => [] as bigint[])));
  lists.forEach((oids, i) => {
    for (const oid of oids) {
      if (!isDataObj(oid)) continue;
      const l = holders.get(oid) ?? [];
      l.push(nodeAddrString(nodes[i]!));
      holders.set(oid, l);
    }
  });
  let s = 'Index\tObject\tOwner\tNodes\n';
  let own = 0, shared = 0;
  index.forEach((owner, idx) => {
    if (owner === 0) return;
    if (owner === e.vid) own++;
    else shared++;
    const oid = vidToDataOid(owner, idx);
    const where = holders.get(oid)?.join(' ') ?? '(none)';
    s += `${idx}\t${oid.toString(16).padStart(16, '0')}\t${owner === e.vid ? 'self' : `parent ${owner.toString(16)}`}\t${where}\n`;
  });
  s += `\nAllocated: ${own + shared} of ${index.length} objects, ${own} own, ${shared} shared with the parent\n`;
  return s;
}
