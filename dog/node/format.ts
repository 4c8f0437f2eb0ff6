/**
 * dog node format <sheep dir> <store>: write the node-local store choice
 * (`<dir>/node_config`, a 16-byte store name) without contacting any daemon
 * (cli.md §2.6.10).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../exit.js';
import { strerror } from '../errno.js';
import { err } from '../output.js';
import type { Dog } from '../context.js';

const STORES = ['plain', 'tree'];
const NODE_INFO_SIZE = 16;

export async function run(_dog: Dog, args: string[]): Promise<number> {
  const [dir, store] = args as [string, string | undefined];
  if (store === undefined) {
    err('specify store format');
    return EXIT.USAGE;
  }
  if (!STORES.includes(store)) {
    err('expected store format: plain, tree');
    return EXIT.SYSFAIL;
  }
  const path = join(dir, 'node_config');
  const buf = Buffer.alloc(NODE_INFO_SIZE);
  buf.write(store, 0, 'utf8');
  try {
    writeFileSync(path, buf, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') err(`config file already exists: ${path}`);
    else err(`failed to create config file ${path}: ${strerror(e)}`);
    return EXIT.SYSFAIL;
  }
  return EXIT.SUCCESS;
}
