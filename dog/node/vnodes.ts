/** dog node vnodes set <n>: a fixed vnode count for the target node (cli.md §2.6.9). */
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT, ExitNow } from '../exit.js';
import { err } from '../output.js';

export const set = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const arg = args[0] ?? '';
    const n = /^\d+$/.test(arg) ? Number(arg) : 0;
    if (n < 1 || n > 65535) {
      err(`Invalid number of vnodes '${arg}': must be an integer between 1 and 65535`);
      throw new ExitNow(EXIT.USAGE);
    }
    const b = Buffer.alloc(4);
    b.writeInt32LE(n, 0);
    const r = await dog.exec(SdHeader.request(SD_OP.SET_VNODES, SD_FLAG.CMD_WRITE, 4), b);
    if (!r || r.hdr.result !== SD_RES.SUCCESS) {
      err('Failed to execute request');
      return 255;
    }
    return EXIT.SUCCESS;
  },
};
