/** dog cluster info [-r] [-v] [-d] (cli.md §2.5.1). */
import { decodeEpochLog, epochLogStride, type EpochLog } from '../../shared/proto/cluster-info.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { clusterInfoJson, renderClusterInfo } from '../../shared/report-text.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { printJson } from '../json.js';
import { out } from '../output.js';





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
    if (dog.json) printJson(clusterInfoJson(r.hdr.result, logs));
    else out(renderClusterInfo(r.hdr.result, logs, { raw: dog.raw, verbose: dog.verbose, diff: dog.opts.diff }));
    return EXIT.SUCCESS;
  }
}
