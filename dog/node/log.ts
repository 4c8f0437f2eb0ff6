/** dog node log level set <level> | get | list (cli.md §2.6.8). */
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err } from '../output.js';

export const LOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
const EXIT_MINUS_ONE = 255;

const listLines = (): string[] => LOG_LEVELS.map((l, i) => `${l}\t(${i})`);

export const set = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const name = args[0] ?? '';
    const level = (LOG_LEVELS as readonly string[]).indexOf(name);
    if (level < 0) {
      err(`invalid loglevel: ${name}`);
      err('available loglevels:');
      for (const l of listLines()) err(l);
      return EXIT_MINUS_ONE;
    }
    const b = Buffer.alloc(4);
    b.writeInt32LE(level, 0);
    const r = await dog.exec(SdHeader.request(SD_OP.SET_LOGLEVEL, SD_FLAG.CMD_WRITE, 4), b);
    if (!r || r.hdr.result !== SD_RES.SUCCESS) {
      err('Failed to execute request');
      return EXIT_MINUS_ONE;
    }
    return EXIT.SUCCESS;
  },
};

export const get = {
  async run(dog: Dog): Promise<number> {
    const r = await dog.exec(SdHeader.request(SD_OP.GET_LOGLEVEL, 0, 4));
    if (!r || r.hdr.result !== SD_RES.SUCCESS || r.data.length < 4) {
      err('Failed to execute request');
      return EXIT_MINUS_ONE;
    }
    const level = r.data.readInt32LE(0);
    err(`${LOG_LEVELS[level] ?? 'unknown'} (${level})`);
    return EXIT.SUCCESS;
  },
};

export const list = {
  async run(): Promise<number> {
    for (const l of listLines()) err(l);
    return EXIT.SUCCESS;
  },
};
