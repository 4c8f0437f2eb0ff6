/** dog cluster alter-copy -c N [-f]: the redundancy of VDIs created from now on (cli.md §2.5.8). */
import { decodeEpochLog, EPOCH_LOG_HEADER_SIZE } from '../../shared/proto/cluster-info.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { banner, confirm } from '../prompt.js';

export function nodesPrompt(copies: number, nodes: number): string {
  return `Number of copies (${copies}) is larger than number of nodes (${nodes}).\nAre you sure you want to continue? [yes/no]: `;
}

export async function run(dog: Dog): Promise<number> {
  const o = dog.opts;
  if (o.copyPolicy !== 0) {
    err('Changing redundancy level of erasure coded vdi is not supported yet.');
    return EXIT.USAGE;
  }
  let copies = o.copies;
  if (!copies) {
    copies = 3;
    out("The cluster's redundancy level is not specified, use 3 as default.\n");
  }
  if (copies > dog.nodes.length && !o.force) confirm(nodesPrompt(copies, dog.nodes.length));
  const st = SdHeader.request(SD_OP.STAT_CLUSTER, 0, EPOCH_LOG_HEADER_SIZE);
  const s = await dog.exec(st);
  if (!s || s.data.length < EPOCH_LOG_HEADER_SIZE) return EXIT.SYSFAIL;
  const log = decodeEpochLog(s.data, 0, 0);
  if (log.copyPolicy !== 0) {
    err("The cluster's copy policy is erasure code, changing it is not supported yet.");
    return EXIT.FAILURE;
  }
  if (log.nrCopies === copies) {
    err(`The cluster's redundancy level is already set to ${copies}, nothing changed.`);
    return EXIT.FAILURE;
  }
  if (!o.force) {
    confirm(banner("Caution! Changing cluster's redundancy level will affect", 'all the VDIs to be created later.',
      'Are you sure you want to continue?'));
  }
  const h = SdHeader.request(SD_OP.ALTER_CLUSTER_COPY);
  h.clusterCopies = copies;
  h.clusterCopyPolicy = 0;
  const r = await dog.exec(h);
  if (!r || r.hdr.result !== SD_RES.SUCCESS) {
    err("Changing the cluster's redundancy level failure.");
    return EXIT.FAILURE;
  }
  err(`The cluster's redundancy level is set to ${copies}, the old one was ${log.nrCopies}.`);
  return EXIT.SUCCESS;
}
