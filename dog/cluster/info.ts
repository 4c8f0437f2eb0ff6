/** dog cluster info [-r] [-v] [-d] (cli.md §2.5.1). */
import { rpad } from '../../shared/cformat.js';
import { decodeEpochLog, epochLogStride, type EpochLog } from '../../shared/proto/cluster-info.js';
import { SD_CLUSTER_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { nodeAddrString, nodeKey, type SdNode } from '../../shared/node.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { out } from '../output.js';
import { redundancyText } from '../option-values.js';
import { ctime, strftime } from '../../shared/ctime.js';

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

/** The whole output for a STAT_CLUSTER result and its epoch records (newest first). */
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

export async function run(dog: Dog): Promise<number> {
  let nodesNr = dog.nodes.length;
  for (;;) {
    const stride = epochLogStride(nodesNr);
    const h = SdHeader.request(SD_OP.STAT_CLUSTER, 0, dog.epoch * stride);
    h.clusterNodesNr = nodesNr;
    const r = await dog.exec(h);
    if (!r) return EXIT.SYSFAIL;
    if (r.hdr.result === SD_RES.BUFFER_SMALL) {
      nodesNr *= 2;
      continue;
    }
    const logs: EpochLog[] = [];
    for (let at = 0; at + stride <= r.data.length; at += stride) logs.push(decodeEpochLog(r.data, at, nodesNr));
    out(renderClusterInfo(r.hdr.result, logs, { raw: dog.raw, verbose: dog.verbose, diff: dog.opts.diff }));
    return EXIT.SUCCESS;
  }
}
