/**
 * Values of the command-family options (-c, -s, -z, -P ...), parsed as the
 * option is met on the command line, with the original's messages. A bad value
 * ends dog with exit 1 right there, before any daemon is contacted, exactly as
 * the original's option parsers call exit().
 */
import { parseSize, SIZE_ERROR_HINT } from '../shared/size.js';
import { err } from './output.js';
import { EXIT, ExitNow } from './exit.js';
import type { Family } from './options.js';

export interface OptionValues {
  // vdi family
  prealloc: boolean;
  noShare: boolean;
  /** -i: index of a data object (u64); undefined when not given */
  index: bigint | undefined;
  /** -s: snapshot id (0 = none) or tag ('' = none) */
  snapshotId: number;
  snapshotTag: string;
  exclusive: boolean;
  delete: boolean;
  writeback: boolean;
  /** -c: copies (replicas, or d+p) and the erasure-code policy byte (0 = replication); 0 = default */
  copies: number;
  copyPolicy: number;
  fromSnapshotId: number;
  fromSnapshotTag: string;
  force: boolean;
  /** -y: store policy 1 (hyper volume) */
  storePolicy: number;
  /** -o: an object id; undefined when not given */
  oid: bigint | undefined;
  exist: boolean;
  /** -z: 0 = cluster default */
  blockSizeShift: number;
  reduceIdentical: boolean;
  // cluster family
  store: string;
  avoidDiskfull: boolean;
  useLock: boolean;
  multithread: boolean;
  recycleVid: boolean;
  strict: boolean;
  fixedVnodes: boolean;
  diff: boolean;
  // node family
  all: boolean;
  progress: boolean;
  watch: boolean;
  local: boolean;
  // benchmark / upgrade (values kept raw; the commands read them)
  workqueue: string | undefined;
  total: string | undefined;
  nrThreads: string | undefined;
  origVersion: string | undefined;
}

export function defaultOptionValues(): OptionValues {
  return {
    prealloc: false, noShare: false, index: undefined, snapshotId: 0, snapshotTag: '',
    exclusive: false, delete: false, writeback: false, copies: 0, copyPolicy: 0,
    fromSnapshotId: 0, fromSnapshotTag: '', force: false, storePolicy: 0, oid: undefined,
    exist: false, blockSizeShift: 0, reduceIdentical: false,
    store: '', avoidDiskfull: false, useLock: false, multithread: false, recycleVid: false,
    strict: false, fixedVnodes: false, diff: false,
    all: false, progress: false, watch: false, local: false,
    workqueue: undefined, total: undefined, nrThreads: undefined, origVersion: undefined,
  };
}

const SD_MAX_COPIES = 31;
const SD_EC_MAX_STRIP = 16;
const STORE_LEN = 16;
const SD_MAX_VDI_TAG_LEN = 256;

function fail(...lines: string[]): never {
  for (const l of lines) err(l);
  throw new ExitNow(EXIT.FAILURE);
}

/** C strtol's accepted prefix in base 10: the number, or undefined when no digits. */
export function strtol10(s: string): { value: number; rest: string } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(s);
  if (!m) return undefined;
  const v = Number(m[2]);
  return { value: m[1] === '-' ? -v : v, rest: s.slice(m[0].length) };
}

/** Redundancy `N` (1..31) or `D:P` (D in 2,4,8,16; P in 1..15) → copies and policy (§2.2.1). */
export function parseRedundancy(arg: string): { copies: number; policy: number } | undefined {
  if (arg.length > 9) return undefined;
  const rep = /^(\d+)$/.exec(arg);
  if (rep) {
    const n = Number(rep[1]);
    return n >= 1 && n <= SD_MAX_COPIES ? { copies: n, policy: 0 } : undefined;
  }
  const ec = /^(\d+):(\d+)$/.exec(arg);
  if (!ec) return undefined;
  const d = Number(ec[1]);
  const p = Number(ec[2]);
  if (![2, 4, 8, 16].includes(d) || p < 1 || p >= SD_EC_MAX_STRIP) return undefined;
  return { copies: d + p, policy: ((d / 2) << 4) | p };
}


function redundancyOption(arg: string, o: OptionValues): void {
  const r = parseRedundancy(arg);
  if (!r) {
    fail(
      `Invalid parameter ${arg}`,
      'To create replicated vdi, set -c x',
      '  x(1 to 31)   - number of replicated copies',
      'To create erasure coded vdi, set -c x:y',
      '  x(2,4,8,16)  - number of data strips',
      '  y(1 to 15)   - number of parity strips',
    );
  }
  o.copies = r.copies;
  o.copyPolicy = r.policy;
}

/** C atoi: the leading integer, 0 when there is none. */
function atoi(s: string): number {
  const r = strtol10(s);
  return r ? r.value : 0;
}

function shiftOption(arg: string, o: OptionValues, family: Family): void {
  const shift = atoi(arg);
  if (shift > 31) fail('Object Size is limited to 2^31. Please set shift bit lower than 31');
  if (shift < 20) fail('Object Size is larger than 2^20. Please set shift bit larger than 20');
  if (family === 'vdi' && o.storePolicy === 1) bothHyperAndShift();
  o.blockSizeShift = shift;
}

function bothHyperAndShift(): never {
  fail("Don't specify both -y and -z options, please");
}

/** -s / -F: a decimal integer is a snapshot id, anything else a tag (§2.2.3). */
export function parseSnapshotSelector(arg: string): { isId: boolean; id: number; tag: string } {
  if (/^[ \t\n\v\f\r]*[+-]?\d+$/.test(arg)) return { isId: true, id: Number(arg.trim()) | 0, tag: '' };
  return { isId: false, id: 0, tag: truncateBytes(arg, SD_MAX_VDI_TAG_LEN - 1) };
}

/** What pstrcpy into a fixed-size C buffer keeps of a string. */
export function truncateBytes(s: string, maxBytes: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= maxBytes ? s : b.subarray(0, maxBytes).toString('utf8');
}

/** -i: `0x...` is hexadecimal, anything else decimal (strtol), as an unsigned 64-bit index. */
export function parseIndex(arg: string): bigint | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:(0[xX])([0-9a-fA-F]+)|(\d+))/.exec(arg);
  if (!m) return undefined;
  const v = m[2] ? BigInt('0x' + m[3]) : BigInt(m[4]!);
  return BigInt.asUintN(64, m[1] === '-' ? -v : v);
}

/** -o: strtoull(arg, 16); undefined when no hex digits. */
export function parseOid(arg: string): bigint | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX])?([0-9a-fA-F]+)/.exec(arg);
  if (!m) return undefined;
  const v = BigInt('0x' + m[2]);
  return BigInt.asUintN(64, m[1] === '-' ? -v : v);
}

/** Apply one family option (never a global one: main handles a p r v h T). */
export function applyOption(family: Family, ch: string, value: string | undefined, o: OptionValues): void {
  const v = value ?? '';
  switch (family) {
    case 'vdi':
      switch (ch) {
        case 'P': o.prealloc = true; return;
        case 'n': o.noShare = true; return;
        case 'i': {
          const idx = parseIndex(v);
          if (idx === undefined) fail('The index must be a decimal integer or a hexadecimal integer started with 0x');
          o.index = idx;
          return;
        }
        case 's': {
          const s = parseSnapshotSelector(v);
          if (s.isId && s.id === 0) fail('The snapshot id must be larger than zero');
          o.snapshotId = s.id;
          o.snapshotTag = s.tag;
          return;
        }
        case 'x': o.exclusive = true; return;
        case 'd': o.delete = true; return;
        case 'w': o.writeback = true; return;
        case 'c': redundancyOption(v, o); return;
        case 'F': {
          const s = parseSnapshotSelector(v);
          o.fromSnapshotId = s.id;
          o.fromSnapshotTag = s.tag;
          return;
        }
        case 'f': o.force = true; return;
        case 'y':
          if (o.blockSizeShift !== 0) bothHyperAndShift();
          o.storePolicy = 1;
          return;
        case 'o': {
          const oid = parseOid(v);
          if (oid === undefined) fail('object id must be a hex integer');
          o.oid = oid;
          return;
        }
        case 'e': o.exist = true; return;
        case 'z': shiftOption(v, o, family); return;
        case 'R': o.reduceIdentical = true; return;
      }
      break;
    case 'cluster':
      switch (ch) {
        case 'b': o.store = truncateBytes(v, STORE_LEN - 1); return;
        case 'c': redundancyOption(v, o); return;
        case 'f': o.force = true; return;
        case 'F': o.avoidDiskfull = true; return;
        case 'l': o.useLock = true; return;
        // the original's switch falls through from -m into -t
        case 'm': o.multithread = true; o.strict = true; return;
        case 't': o.strict = true; return;
        case 'R': o.recycleVid = true; return;
        case 'z': shiftOption(v, o, family); return;
        case 'V': o.fixedVnodes = true; return;
        case 'd': o.diff = true; return;
      }
      break;
    case 'node':
      switch (ch) {
        case 'A': o.all = true; return;
        case 'P': o.progress = true; return;
        case 'w': o.watch = true; return;
        case 'l': o.local = true; return;
        case 'f': o.force = true; return;
      }
      break;
    case 'benchmark':
      switch (ch) {
        case 'w': o.workqueue = v; return;
        case 'f': o.force = true; return;
        case 't': o.total = v; return;
        case 'n': o.nrThreads = v; return;
      }
      break;
    case 'upgrade':
      if (ch === 'o') { o.origVersion = v; return; }
      break;
  }
  throw new Error(`no handler for option -${ch} of ${family} commands`);
}

/**
 * A size argument of `vdi create`/`vdi resize`: the original's messages when
 * it is missing or unreadable (the caller then exits with usage).
 */
export function sizeArgument(arg: string | undefined, missingMessage: string): bigint | undefined {
  if (arg === undefined) {
    err(missingMessage);
    return undefined;
  }
  const parsed = parseSize(arg);
  if (parsed === undefined) {
    err(`Invalid size '${arg}'`);
    err(SIZE_ERROR_HINT);
    return undefined;
  }
  return BigInt(parsed);
}
