/** dog cluster reweight and cluster recover force (cli.md §2.5.4, §2.5.6). */
import { SD_MAX_NODES, SD_NODE_SIZE } from '../../shared/node.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { lightRequest } from '../object-io.js';
import { err } from '../output.js';
import { confirm } from '../prompt.js';

export const reweight = {
  async run(dog: Dog): Promise<number> {
    return (await lightRequest(dog, SdHeader.request(SD_OP.REWEIGHT))) ? EXIT.SUCCESS : EXIT.FAILURE;
  },
};

export const FORCE_RECOVER_PROMPT =
  'Caution! Please try starting all the cluster nodes normally before\n' +
  'running this command.\n\n' +
  'The cluster may need to be force recovered if:\n' +
  '  - the master node fails to start because of epoch mismatch; or\n' +
  '  - some nodes fail to start after a cluster shutdown.\n\n' +
  'Are you sure you want to continue? [yes/no]: ';

export const recoverForce = {
  async run(dog: Dog): Promise<number> {
    if (!dog.opts.force) confirm(FORCE_RECOVER_PROMPT);
    const r = await dog.exec(SdHeader.request(SD_OP.FORCE_RECOVER, 0, SD_MAX_NODES * SD_NODE_SIZE));
    if (!r) return EXIT.SYSFAIL;
    if (r.hdr.result !== SD_RES.SUCCESS) {
      err(`failed to execute request, ${resultText(r.hdr.result)}`);
      return EXIT.FAILURE;
    }
    return EXIT.SUCCESS;
  },
};
