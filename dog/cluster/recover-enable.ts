/** dog cluster recover enable: resume automatic recovery (cli.md §2.5.4). */
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { lightRequest } from '../object-io.js';
import { out } from '../output.js';

export async function run(dog: Dog): Promise<number> {
  if (!(await lightRequest(dog, SdHeader.request(SD_OP.ENABLE_RECOVER)))) return EXIT.FAILURE;
  out('Cluster recovery: enable\n');
  return EXIT.SUCCESS;
}
