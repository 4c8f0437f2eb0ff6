import { isIP } from 'node:net';
import { getopt, type OptionDef } from '../shared/getopt.js';
import { parseSize } from '../shared/size.js';
import { LOG_LEVELS, type LogDst, type LogFormat } from './log.js';

export const SHEEP_VERSION = '1.0.1';

/** Everything the command line decides. */
export interface SheepOptions {
  baseDir: string;
  /** md data disks; empty means `<baseDir>/obj` */
  diskDirs: string[];
  /** the store argument as given (`PATH,DISK,...`), if any */
  storeArg?: string;
  bindAddr: string | undefined;
  port: number;
  cluster: { driver: 'local' | 'zookeeper'; option: string };
  directIo: boolean;
  foreground: boolean;
  gateway: boolean;
  ioAddr: { host: string; port: number } | undefined;
  journal: { size: number; dir: string | undefined; skip: boolean } | undefined;
  log: { level: number; dir: string | undefined; format: LogFormat; dst: LogDst };
  nosync: boolean;
  pidFile: string | undefined;
  recovery: { max: number; interval: number } | undefined;
  upgrade: boolean;
  /** fixed vnode count (-V); undefined = auto strategy */
  vnodes: number | undefined;
  cache: { size: number; dir: string | undefined; directIo: boolean } | undefined;
  wildcard: boolean;
  myAddr: string | undefined;
  zone: number | undefined;
  /** the NBD export (long options only; off unless given) */
  nbd: { tcp: { host: string; port: number } | undefined; unix: string | undefined };
  /** --metrics: where Prometheus scrapes /metrics (off unless given) */
  metrics: { host: string; port: number } | undefined;
}

interface SheepOptionDef extends OptionDef {
  /** the argument's name in --help, for long-only options */
  argName?: string;
  desc: string;
  /** detailed text printed when the argument is missing */
  detail?: string;
}

const OPTIONS: SheepOptionDef[] = [
  { short: 'b', long: 'bindaddr', hasArg: true, desc: 'specify IP address of interface to listen on',
    detail: 'Example:\n\t$ sheep -b 192.168.1.1 ...\nThis tries to listen on 192.168.1.1 (all interfaces by default).' },
  { short: 'c', long: 'cluster', hasArg: true, desc: 'specify the cluster driver (default: local)',
    detail: `Available arguments:
\tlocal: use local driver
\tzookeeper: use zookeeper driver, need extra arguments

\tzookeeper arguments: connection-string,timeout=value (default as 30000)

Example:
\t$ sheep -c zookeeper:IP1:PORT1,IP2:PORT2,IP3:PORT3[/cluster_id][,timeout=1000] ...
This tries to use 3 node zookeeper cluster, which can be reached by
IP1:PORT1, IP2:PORT2, IP3:PORT3 to manage membership and broadcast message
and set the timeout of node heartbeat as 1000 milliseconds.
cluster_id is used to identify which cluster it belongs to,
if not set, /sheepdog is used internally as default.` },
  { short: 'D', long: 'directio', hasArg: false, desc: 'use direct IO for backend store' },
  { short: 'f', long: 'foreground', hasArg: false, desc: 'make the program run in foreground' },
  { short: 'g', long: 'gateway', hasArg: false, desc: 'make the program run as a gateway mode' },
  { short: 'h', long: 'help', hasArg: false, desc: 'display this help and exit' },
  { short: 'i', long: 'ioaddr', hasArg: true, desc: 'use separate network card to handle IO requests (default: disabled)',
    detail: 'Example:\n\t$ sheep -i host=192.168.1.1,port=7002 ...\nThis tries to use 192.168.1.1:7002 as a separate IO NIC (port defaults to 7000).' },
  { short: 'j', long: 'journal', hasArg: true, desc: 'use journal file to log all the write operations. (default: disabled)',
    detail: 'Example:\n\t$ sheep -j dir=/journal,size=1G\nsize= is required (at least 64M); dir= defaults to the store directory;\nskip skips the replay of the journal at start-up.' },
  { short: 'l', long: 'log', hasArg: true, desc: 'specify the log level, the log directory and the log format(log level default: 6 [SDOG_INFO])',
    detail: `Example:
\t$ sheep -l dir=/var/log/,level=debug,format=server ...
Available arguments:
\tdir=: path to the location of sheep.log
\tlevel=: log level of sheep.log
\tformat=: log format type
\tdst=: log destination type

if dir is not specified, use metastore directory

Available log levels:
  Level      Description
  emerg      system has failed and is unusable
  alert      action must be taken immediately
  crit       critical conditions
  err        error conditions
  warning    warning conditions
  notice     normal but significant conditions
  info       informational notices
  debug      debugging messages
default log level is info

Available log format:
  FormatType      Description
  default         raw format
  server          raw format with timestamp
  json            json format

Available log destination:
  DestinationType    Description
  default            dedicated file in a directory used by sheep
  syslog             syslog of the system
  stdout             standard output` },
  { short: 'n', long: 'nosync', hasArg: false, desc: 'drop O_SYNC for write of backend' },
  { short: 'p', long: 'port', hasArg: true, desc: 'specify the TCP port on which to listen (default: 7000)' },
  { short: 'P', long: 'pidfile', hasArg: true, desc: 'create a pid file' },
  { short: 'R', long: 'recovery', hasArg: true, desc: 'specify the recovery speed throttling',
    detail: 'Example:\n\t$ sheep -R max=50,interval=1000 ...\nRecover at most 50 objects every 1000 milliseconds.' },
  { short: 'u', long: 'upgrade', hasArg: false, desc: 'upgrade to the latest data layout' },
  { short: 'v', long: 'version', hasArg: false, desc: 'show the version' },
  { short: 'V', long: 'vnodes', hasArg: true, desc: 'set number of vnodes',
    detail: 'Example:\n\t$ sheep -V 128\nThis sets 128 virtual nodes and the fixed vnodes strategy.' },
  { short: 'w', long: 'cache', hasArg: true, desc: 'enable object cache (size=SIZE,dir=PATH[,directio])',
    detail: 'Example:\n\t$ sheep -w size=1G,dir=/ssd/cache ...\nThis keeps up to 1G of hot objects in a write-back cache in /ssd/cache.' },
  { short: 'W', long: 'wildcard-recovery', hasArg: false, desc: 'wildcard recovery for first time' },
  { short: 'y', long: 'myaddr', hasArg: true, desc: 'specify the address advertised to other sheep',
    detail: 'Example:\n\t$ sheep -y 192.168.1.1 ...\nOther sheep reach this one at 192.168.1.1.' },
  { short: 'z', long: 'zone', hasArg: true, desc: 'specify the zone id (default: determined by listen address)',
    detail: 'Example:\n\t$ sheep -z 1 ...\nCopies of an object never share a zone (0 to 4294967295).' },
  // long-only options (not in the original): their key is the long name, which no short option can match
  { short: 'nbd', long: 'nbd', hasArg: true, argName: '[ADDR:]PORT', desc: 'export VDIs over NBD on a TCP port (ADDR default: 127.0.0.1)' },
  { short: 'nbd-unix', long: 'nbd-unix', hasArg: true, argName: 'PATH', desc: 'export VDIs over NBD on a Unix socket' },
  { short: 'metrics', long: 'metrics', hasArg: true, argName: '[ADDR:]PORT', desc: 'serve Prometheus metrics at /metrics (ADDR default: 127.0.0.1)' },
];

export function helpText(): string {
  const lines = [
    `Sheepdog daemon (version ${SHEEP_VERSION})`,
    'Usage: sheep [OPTION]... [PATH] (default: /tmp)',
    'Options:',
    ...OPTIONS.map((o) => (o.argName
      ? `      --${`${o.long} ${o.argName}`.padEnd(17)} ${o.desc}`
      : `  -${o.short}, --${o.long.padEnd(18)}${o.desc}`)),
    '',
    "Try 'sheep <option>', e.g., 'sheep -w', to get more detail about specific option",
  ];
  return lines.join('\n') + '\n';
}

/** Outcome of parsing: run with options, or print and exit. */
export type ParseOutcome =
  | { run: SheepOptions }
  | { exit: number; stdout?: string; stderr?: string };

const fail = (msg: string): ParseOutcome => ({ exit: 1, stderr: `${msg}\n` });

function parseUint(s: string, max: number): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

function subOptions(arg: string, keys: string[]): Map<string, string> | string {
  const out = new Map<string, string>();
  for (const tok of arg.split(',')) {
    const key = keys.find((k) => tok.startsWith(k));
    if (key === undefined) return tok;
    out.set(key.replace(/=$/, ''), tok.slice(key.length));
  }
  return out;
}

/** `[ADDR:]PORT` (ADDR an IP address, `[v6]` allowed; default 127.0.0.1). */
export function parseListenAddr(v: string): { host: string; port: number } | undefined {
  const colon = v.lastIndexOf(':');
  const host = colon < 0 ? '127.0.0.1' : v.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = parseUint(v.slice(colon + 1), 65535);
  if (!port || !isIP(host)) return undefined;
  return { host, port };
}

export function parseSheepArgs(argv: string[]): ParseOutcome {
  const r = getopt('sheep', argv, OPTIONS);
  if (!r.ok) {
    const missing = /option requires an argument -- '(.)'/.exec(r.message)
      ?? /option '--(\S+)' requires an argument/.exec(r.message);
    const def = missing && OPTIONS.find((o) => o.short === missing[1] || o.long === missing[1]);
    if (def?.detail) return { exit: 1, stderr: `${r.message}\n`, stdout: `${def.detail}\n` };
    return { exit: 1, stderr: `${r.message}\nTry 'sheep --help' for more information.\n` };
  }
  const o: SheepOptions = {
    baseDir: '/tmp', diskDirs: [], bindAddr: undefined, port: 7000,
    cluster: { driver: 'local', option: '' }, directIo: false, foreground: false, gateway: false,
    ioAddr: undefined, journal: undefined,
    log: { level: 6, dir: undefined, format: 'server', dst: 'default' },
    nosync: false, pidFile: undefined, recovery: undefined, upgrade: false, vnodes: undefined,
    cache: undefined, wildcard: false, myAddr: undefined, zone: undefined,
    nbd: { tcp: undefined, unix: undefined }, metrics: undefined,
  };
  for (const { short, value } of r.options) {
    const v = value ?? '';
    switch (short) {
      case 'h': return { exit: 0, stdout: helpText() };
      case 'v': return { exit: 0, stdout: `Sheepdog daemon version ${SHEEP_VERSION}\n` };
      case 'b':
        if (!isIP(v)) return fail(`Bad address '${v}'`);
        o.bindAddr = v;
        break;
      case 'c': {
        const colon = v.indexOf(':');
        const name = colon < 0 ? v : v.slice(0, colon);
        const opt = colon < 0 ? '' : v.slice(colon + 1);
        if (name !== 'local' && name !== 'zookeeper') {
          return fail(`Invalid cluster driver '${v}'\nSupported drivers: zookeeper local`);
        }
        if (name === 'zookeeper' && opt === '') return fail('You must specify zookeeper servers.');
        o.cluster = { driver: name, option: opt };
        break;
      }
      case 'D': o.directIo = true; break;
      case 'f': o.foreground = true; break;
      case 'g': o.gateway = true; break;
      case 'i': {
        const sub = subOptions(v, ['host=', 'port=']);
        if (typeof sub === 'string') return fail(`invalid option ${sub}`);
        const host = sub.get('host') ?? '';
        if (!isIP(host)) return fail(`Bad addr: '${host}'`);
        const port = sub.has('port') ? parseUint(sub.get('port')!, 65535) : 7000;
        if (!port) return fail(`Bad port '${sub.get('port')}'`);
        o.ioAddr = { host, port };
        break;
      }
      case 'j': {
        const sub = subOptions(v, ['size=', 'dir=', 'skip']);
        if (typeof sub === 'string') return fail(`invalid option ${sub}`);
        if (!sub.has('size')) return fail('you must specify size for journal');
        const size = parseSize(sub.get('size')!);
        if (size === undefined || size < 64 * 1024 * 1024) return fail(`invalid size ${sub.get('size')}, must be bigger than 64(M)`);
        o.journal = { size, dir: sub.get('dir'), skip: sub.has('skip') };
        break;
      }
      case 'l': {
        const sub = subOptions(v, ['level=', 'dir=', 'format=', 'dst=']);
        if (typeof sub === 'string') return fail(`invalid option ${sub}`);
        if (sub.has('level')) {
          const lv = LOG_LEVELS.indexOf(sub.get('level') as (typeof LOG_LEVELS)[number]);
          if (lv < 0) {
            const table = LOG_LEVELS.map((l) => `  ${l}`).join('\n');
            return { exit: 1, stderr: `Invalid log level '${sub.get('level')}'\n`, stdout: `Available log levels:\n${table}\n` };
          }
          o.log.level = lv;
        }
        if (sub.has('format')) {
          const f = sub.get('format')!;
          if (f !== 'server' && f !== 'default' && f !== 'json') {
            return fail(`invalid log format: ${f}\nvalid options are:\n\tdefault\n\tserver\n\tjson`);
          }
          o.log.format = f;
        }
        if (sub.has('dst')) {
          const d = sub.get('dst')!;
          if (d !== 'default' && d !== 'stdout' && d !== 'syslog') return fail(`invalid type of log destination: ${d}`);
          o.log.dst = d;
        }
        o.log.dir = sub.get('dir');
        if (o.log.dir !== undefined && o.log.dst !== 'default') {
          return fail(`logdir (${o.log.dir}) is specified but logging destination is ${o.log.dst}`);
        }
        if (o.log.dst === 'stdout') o.foreground = true;
        break;
      }
      case 'n': o.nosync = true; break;
      case 'p': {
        const port = parseUint(v, 65535);
        if (!port) return fail(`Invalid port number '${v}'`);
        o.port = port;
        break;
      }
      case 'P': o.pidFile = v; break;
      case 'R': {
        const sub = subOptions(v, ['max=', 'interval=']);
        if (typeof sub === 'string') return fail(`invalid option ${sub}`);
        o.recovery = { max: parseInt(sub.get('max') ?? '0', 10) || 0, interval: parseInt(sub.get('interval') ?? '0', 10) || 0 };
        break;
      }
      case 'u': o.upgrade = true; break;
      case 'V': {
        const n = parseUint(v, 65535);
        if (!n) return fail(`Invalid number of vnodes '${v}': must be an integer between 1 and 65535`);
        o.vnodes = n;
        break;
      }
      case 'w': {
        const sub = subOptions(v, ['size=', 'dir=', 'directio']);
        if (typeof sub === 'string') return fail(`invalid option ${sub}`);
        const size = sub.has('size') ? parseSize(sub.get('size')!) : undefined;
        if (size === undefined || size <= 0) return fail(`invalid cache size '${sub.get('size') ?? ''}'`);
        o.cache = { size, dir: sub.get('dir'), directIo: sub.has('directio') };
        break;
      }
      case 'W': o.wildcard = true; break;
      case 'y': o.myAddr = v; break;
      case 'z': {
        const z = parseUint(v, 0xffffffff);
        if (z === undefined) return fail(`Invalid zone id '${v}': must be an integer between 0 and 4294967295`);
        o.zone = z;
        break;
      }
      case 'nbd': {
        const where = parseListenAddr(v);
        if (!where) return fail(`Bad NBD address '${v}': [ADDR:]PORT`);
        o.nbd.tcp = where;
        break;
      }
      case 'metrics': {
        const where = parseListenAddr(v);
        if (!where) return fail(`Bad metrics address '${v}': [ADDR:]PORT`);
        o.metrics = where;
        break;
      }
      case 'nbd-unix':
        if (v === '') return fail('Bad NBD socket path');
        o.nbd.unix = v;
        break;
    }
  }
  if (o.gateway && o.vnodes !== undefined) return fail("Options '-g' and '-V' can not be both specified");
  if (r.args.length > 0) {
    o.storeArg = r.args[0];
    const parts = r.args[0]!.split(',').map((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p));
    o.baseDir = parts[0]!;
    o.diskDirs = parts.slice(1).filter((p) => p !== '');
    const seen = new Set<string>();
    for (const d of o.diskDirs) {
      if (seen.has(d)) return fail(`duplicate path ${d}`);
      seen.add(d);
    }
  }
  return { run: o };
}
