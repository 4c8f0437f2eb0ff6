/**
 * dog upgrade ... (cli.md §2.9): offline tools for the files of older releases.
 *
 * inode-convert, epoch-convert and config-convert turn Sheepdog 0.7/0.8 files
 * into 1.0's layout. This implementation starts at 1.0: its sheep never wrote
 * the older layouts and reads only 1.0's, so there is nothing for them to
 * convert; they check their arguments as 1.0 does, then say so and exit 1.
 * object-location reads a 1.0 epoch file (which sheep still writes, in the
 * original's format) and prints which node holds an object's first copy.
 */
import { readFileSync } from 'node:fs';
import { decodeNodes, nodeIdString, SD_NODE_SIZE } from '../shared/node.js';
import { VnodeRing } from '../shared/placement.js';
import type { Dog } from './context.js';
import { strerror } from './errno.js';
import { EXIT, ExitNow } from './exit.js';
import { parseOid } from './option-values.js';
import { err } from './output.js';

/** The epoch file ends with its 8-byte timestamp, after the node list. */
const EPOCH_TIMESTAMP_SIZE = 8;
const VERSIONS = ['v0.7', 'v0.8'];

function checkVersion(dog: Dog): void {
  const v = dog.opts.origVersion;
  if (v !== undefined && !VERSIONS.includes(v)) {
    err(`unknown original version: ${v}`);
    err('valid versions are v0.7 or v0.8');
    throw new ExitNow(EXIT.FAILURE);
  }
}

function converter(what: string) {
  return {
    async run(dog: Dog, args: string[]): Promise<number> {
      checkVersion(dog);
      if (args.length < 2) {
        err('please specify destination file path');
        return EXIT.USAGE;
      }
      err(`dog: upgrade ${what} converts files written by Sheepdog 0.7 or 0.8. This implementation reads and ` +
        'writes only the formats of Sheepdog 1.0 and never wrote the older ones: there is nothing to convert.');
      return EXIT.FAILURE;
    },
  };
}

export const inodeConvert = converter('inode-convert');
export const epochConvert = converter('epoch-convert');
export const configConvert = converter('config-convert');

export const objectLocation = {
  async run(_dog: Dog, args: string[]): Promise<number> {
    const [path, oidArg] = args;
    if (oidArg === undefined) {
      err('please specify object id in hex format');
      return EXIT.USAGE;
    }
    let buf: Buffer;
    try {
      buf = readFileSync(path!);
    } catch (e) {
      err(`failed to read epoch file ${path}: ${strerror(e)}`);
      return EXIT.SYSFAIL;
    }
    const listLen = buf.length - EPOCH_TIMESTAMP_SIZE;
    const count = listLen > 0 && listLen % SD_NODE_SIZE === 0 ? listLen / SD_NODE_SIZE : 0;
    if (count === 0) {
      err(`failed to construct vnode info from epoch file ${path}`);
      return EXIT.SYSFAIL;
    }
    const oid = parseOid(oidArg) ?? 0n;
    const [first] = new VnodeRing(decodeNodes(buf, count)).holders(oid, 1);
    err(nodeIdString(first!));
    return EXIT.SUCCESS;
  },
};
