/** dog cluster info [-r] [-v] [-d] (cli.md §2.5.1). */
import { requestEpochLogs } from '../../shared/epoch-logs.js';
import { SD_MAX_NODES } from '../../shared/node.js';
import { clusterInfoJson, renderClusterInfo } from '../../shared/report-text.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { printJson } from '../json.js';
import { out } from '../output.js';





/** Largest member count the epoch logs are asked for with (the buffer doubles up to it). */
const EPOCH_LOG_NODES_MAX = SD_MAX_NODES;

export async function run(dog: Dog): Promise<number> {
  const { reply: r, logs } = await requestEpochLogs((h) => dog.exec(h), {
    epochs: dog.epoch, firstNodes: dog.nodes.length, maxNodes: EPOCH_LOG_NODES_MAX,
  });
  if (!r) return EXIT.SYSFAIL;
  if (dog.json) printJson(clusterInfoJson(r.hdr.result, logs));
  else out(renderClusterInfo(r.hdr.result, logs, { raw: dog.raw, verbose: dog.verbose, diff: dog.opts.diff }));
  return EXIT.SUCCESS;
}
