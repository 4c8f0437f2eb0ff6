/** dog cluster shutdown: every sheep stops cleanly (cli.md §2.5.3). */
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { lightRequest } from '../object-io.js';
import { err } from '../output.js';

export async function run(dog: Dog): Promise<number> {
  if (!(await lightRequest(dog, SdHeader.request(SD_OP.SHUTDOWN)))) {
    err('failed to execute request');
    return EXIT.FAILURE;
  }
  return EXIT.SUCCESS;
}
