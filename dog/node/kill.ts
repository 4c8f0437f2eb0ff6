/** dog node kill <node id> | -l (cli.md §2.6.1). */
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import type { Dog } from '../context.js';
import { EXIT, ExitNow } from '../exit.js';
import { lightRequest } from '../object-io.js';
import { err } from '../output.js';

function usageError(message: string): never {
  err(message);
  throw new ExitNow(EXIT.USAGE);
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const id = args[0];
  let target = dog.target;
  if (dog.opts.local) {
    if (id !== undefined) usageError("don't use -l option and specify node id at the same time");
  } else {
    if (id === undefined) usageError('please specify -l option or node id');
    if (!/^\d+$/.test(id)) usageError(`Invalid node id '${id}', please specify a numeric value`);
    const n = Number(id);
    if (n >= dog.nodes.length) usageError(`Invalid node id '${n}'`);
    target = dog.nodeTarget(dog.nodes[n]!);
  }
  if (!(await lightRequest(dog, SdHeader.request(SD_OP.KILL_NODE), target))) {
    err('Failed to execute request');
    return EXIT.FAILURE;
  }
  return EXIT.SUCCESS;
}
