/**
 * sheepfs's command line (cli.md §3.1): the options of the original, with its
 * usage text, except that the usage no longer offers `-o`: as in the original,
 * --objectcache has no short form, and `-o` and `-n` are refused.
 */
import { getopt, type OptionDef } from '../shared/getopt.js';
import { FUSE_BACKENDS, type FuseBackendChoice } from './fuse/types.js';

export interface Options {
  mountpoint: string;
  address: string;
  port: number;
  debug: boolean;
  foreground: boolean;
  pageCache: boolean;
  objectCache: boolean;
  /** undefined: SHEEPFS_FUSE, else auto */
  fuse?: FuseBackendChoice;
}

export const USAGE = `Usage: sheepfs [OPTION]... MOUNTPOINT
Options:
  -a, --address           specify the sheep address (default: 127.0.0.1)
  -d, --debug             enable debug output (implies -f)
  -f, --foreground        sheepfs run in the foreground
  -k, --pagecache         use local kernel's page cache to access volume
      --objectcache       enable object cache of the connected sheep daemon
  -p, --port              specify the sheep port (default: 7000)
  -h, --help              display this help and exit
      --fuse=BACKEND      how to talk to FUSE (also SHEEPFS_FUSE=BACKEND):
                          kernel  /dev/fuse directly: 1 MiB requests, parallel
                                  direct writes (needs root)
                          native  fuse-native (libfuse2): 128 KiB requests
                          auto    kernel where it can run, else native (default)
`;

export const TRY_HELP = "Try 'sheepfs --help' for help.";

const DEFS: OptionDef[] = [
  { short: 'a', long: 'address', hasArg: true },
  { short: 'd', long: 'debug', hasArg: false },
  { short: 'f', long: 'foreground', hasArg: false },
  { short: 'k', long: 'pagecache', hasArg: false },
  // long form only: the letter is not in the original's short-option string
  { short: '\u0000o', long: 'objectcache', hasArg: false },
  { short: 'p', long: 'port', hasArg: true },
  { short: 'h', long: 'help', hasArg: false },
  { short: '\u0000f', long: 'fuse', hasArg: true },
];

export type ParseResult =
  | { kind: 'run'; options: Options }
  | { kind: 'help' }
  | { kind: 'error'; lines: string[] };

export function parseOptions(argv: readonly string[]): ParseResult {
  const r = getopt('sheepfs', argv, DEFS);
  if (!r.ok) return { kind: 'error', lines: [r.message, TRY_HELP] };
  const o: Options = {
    mountpoint: '', address: '127.0.0.1', port: 7000,
    debug: false, foreground: false, pageCache: false, objectCache: false,
  };
  for (const opt of r.options) {
    switch (opt.short) {
      case 'a':
        if (!opt.value) return { kind: 'error', lines: ['sheepfs: empty sheep address', TRY_HELP] };
        o.address = opt.value;
        break;
      case 'd': o.debug = true; o.foreground = true; break;
      case 'f': o.foreground = true; break;
      case 'k': o.pageCache = true; break;
      case '\u0000o': o.objectCache = true; break;
      case 'p': {
        const v = opt.value ?? '';
        const n = /^\d+$/.test(v) ? Number(v) : NaN;
        if (!(n >= 1 && n <= 65535)) return { kind: 'error', lines: [`Invalid port number '${v}'`] };
        o.port = n;
        break;
      }
      case 'h': return { kind: 'help' };
      case '\u0000f':
        if (!FUSE_BACKENDS.includes(opt.value as FuseBackendChoice)) {
          return { kind: 'error', lines: [`sheepfs: unknown FUSE backend '${opt.value ?? ''}' (auto, kernel or native)`, TRY_HELP] };
        }
        o.fuse = opt.value as FuseBackendChoice;
        break;
    }
  }
  if (r.args.length === 0) return { kind: 'error', lines: ['sheepfs: no MOUNTPOINT given', TRY_HELP] };
  if (r.args.length > 1) return { kind: 'error', lines: [`sheepfs: one MOUNTPOINT only (got ${r.args.join(' ')})`, TRY_HELP] };
  o.mountpoint = r.args[0]!;
  return { kind: 'run', options: o };
}
