/**
 * The command table: the single source of truth for dispatch, the top-level
 * help, the `Available X commands:` listings and every usage text. Entries,
 * option strings, argument texts and descriptions are those of Sheepdog 1.0
 * (cli.md §2.4). A command's code is imported only when it runs, so that
 * `dog node list` loads little.
 */
import type { Dog } from './context.js';
import type { Family } from './options.js';

/** Fetch the node list (and epoch) before running. */
export const NEED_NODELIST = 1;
/** At least one positional argument is required, else usage and exit 64. */
export const NEED_ARG = 2;

export interface CommandModule {
  /** Runs the command with its positional arguments; returns the exit status. */
  run(dog: Dog, args: string[]): Promise<number>;
}

export type Loader = () => Promise<CommandModule>;

/** A sub-subcommand (`dog node md info`, `dog cluster recover enable`...). */
export interface NestedCommand {
  name: string;
  desc: string;
  flags: number;
  args?: string;
  nested?: readonly NestedCommand[];
  /** has a --format json output (the subcommand must say json too, for the option to parse) */
  json?: boolean;
  /** undefined: not implemented yet */
  load?: Loader;
}

export interface Subcommand {
  name: string;
  /** the argument text at the end of the usage line */
  args?: string;
  /** accepted option letters, in usage order */
  opts: string;
  flags: number;
  desc: string;
  nested?: readonly NestedCommand[];
  /** the nested command run when no argument names one (`dog node recovery`) */
  defaultNested?: string;
  /** accepts --format (json output); with nested commands, those marked json have it */
  json?: boolean;
  /** a line after the options in the usage text (commands that differ from 1.0's) */
  note?: string;
  /** not in `Available ... commands` listings (commands Sheepdog 1.0 does not have) */
  hidden?: boolean;
  /**
   * The code. With nested commands and no loader, the first argument picks the
   * nested command (the original's do_generic_subcommand). Without either: not
   * implemented yet.
   */
  load?: Loader;
}

export interface Command {
  name: string;
  family: Family;
  subs: readonly Subcommand[];
}

const N = NEED_NODELIST;
const NEVER_WRITTEN = 'Note: converts files of Sheepdog 0.7/0.8, which this implementation never wrote\n' +
  '      (it reads and writes only 1.0 formats): it checks its arguments and says so.';
const A = NEED_ARG;

export const COMMANDS: readonly Command[] = [
  {
    name: 'vdi',
    family: 'vdi',
    subs: [
      {
        name: 'check', args: '<vdiname>', opts: 'seaphT', flags: N | A, desc: "check and repair image's consistency",
        load: () => import('./vdi/check.js'),
      },
      {
        name: 'create', args: '<vdiname> <size>', opts: 'PycaphrvzT', flags: N | A, desc: 'create an image',
        load: () => import('./vdi/create.js'),
      },
      {
        name: 'snapshot', args: '<vdiname>', opts: 'saphrvTR', flags: A, desc: 'create a snapshot',
        load: () => import('./vdi/snapshot.js'),
      },
      {
        name: 'clone', args: '<src vdi> <dst vdi>', opts: 'sPnaphrvT', flags: A, desc: 'clone an image',
        load: () => import('./vdi/clone.js'),
      },
      {
        name: 'delete', args: '<vdiname>', opts: 'saphT', flags: A, desc: 'delete an image',
        load: () => import('./vdi/delete.js'),
      },
      {
        name: 'rollback', args: '<vdiname>', opts: 'saphfrvT', flags: A, desc: 'rollback to a snapshot',
        load: () => import('./vdi/rollback.js'),
      },
      {
        name: 'list', args: '[vdiname]', json: true, opts: 'aprhoT', flags: 0, desc: 'list images',
        load: () => import('./vdi/list.js'),
      },
      {
        name: 'tree', opts: 'aphT', flags: 0, desc: 'show images in tree view format',
        load: () => import('./vdi/tree.js'),
      },
      {
        name: 'graph', opts: 'aphT', flags: 0, desc: 'show images in Graphviz dot format',
        load: () => import('./vdi/graph.js'),
      },
      {
        name: 'object', args: '<vdiname>', opts: 'isaphT', flags: A, json: true, desc: 'show object information in the image',
        nested: [
          {
            name: 'location', desc: 'show object location information', flags: N | A, json: true,
            load: async () => (await import('./vdi/object.js')).location,
          },
          {
            name: 'map', desc: 'show object map information', flags: A,
            load: async () => (await import('./vdi/object.js')).map,
          },
          {
            name: 'dump-inode', desc: 'dump inode information', flags: A,
            load: async () => (await import('./vdi/object.js')).dumpInode,
          },
        ],
      },
      {
        name: 'track', args: '<vdiname>', json: true, opts: 'isaphoT', flags: N | A, desc: 'show the object epoch trace in the image',
        load: () => import('./vdi/track.js'),
      },
      {
        name: 'setattr', args: '<vdiname> <key> [value]', opts: 'dxaphT', flags: A, desc: 'set a VDI attribute',
        load: async () => (await import('./vdi/attr.js')).setattr,
      },
      {
        name: 'getattr', args: '<vdiname> <key>', opts: 'aphT', flags: A, desc: 'get a VDI attribute',
        load: async () => (await import('./vdi/attr.js')).getattr,
      },
      {
        name: 'resize', args: '<vdiname> <new size>', opts: 'aphT', flags: A, desc: 'resize an image',
        load: () => import('./vdi/resize.js'),
      },
      {
        name: 'read', args: '<vdiname> [<offset> [<len>]]', opts: 'saphT', flags: A, desc: 'read data from an image',
        load: () => import('./vdi/read.js'),
      },
      {
        name: 'write', args: '<vdiname> [<offset> [<len>]]', opts: 'apwhT', flags: A, desc: 'write data to an image',
        load: () => import('./vdi/write.js'),
      },
      {
        name: 'backup', args: '<vdiname>', opts: 'sFaphT', flags: N | A,
        desc: 'create an incremental backup between two snapshots and outputs to STDOUT',
        load: async () => (await import('./vdi/backup.js')).backup,
      },
      {
        name: 'restore', args: '<vdiname>', opts: 'saphT', flags: N | A,
        desc: 'restore snapshot images from a backup provided in STDIN',
        load: async () => (await import('./vdi/backup.js')).restore,
      },
      {
        name: 'alter-copy', args: '<vdiname>', opts: 'caphTf', flags: N | A, desc: "set the vdi's redundancy level",
        load: () => import('./vdi/alter-copy.js'),
      },
      {
        name: 'lock', opts: 'aphT', flags: A, desc: "See 'dog vdi lock' for more information",
        nested: [
          { name: 'list', desc: 'list locked VDIs', flags: 0, load: async () => (await import('./vdi/lock.js')).list },
          {
            name: 'unlock', desc: 'unlock locked VDI forcibly', flags: A, args: '<vdiname>',
            load: async () => (await import('./vdi/lock.js')).unlock,
          },
        ],
      },
      {
        // the object cache of sheep -w (0.9's commands; 1.0 has none)
        name: 'cache', opts: 'aprhT', flags: A, desc: "See 'dog vdi cache' for more information", hidden: true,
        nested: [
          { name: 'flush', desc: 'flush the cache of the vdi specified.', flags: A, args: '<vdiname>', load: async () => (await import('./vdi/cache.js')).flush },
          { name: 'delete', desc: 'drop the cache of the vdi specified (written back first).', flags: A, args: '<vdiname>', load: async () => (await import('./vdi/cache.js')).remove },
          { name: 'info', desc: 'show usage of the cache', flags: N, load: async () => (await import('./vdi/cache.js')).info },
        ],
      },
    ],
  },
  {
    name: 'node',
    family: 'node',
    subs: [
      {
        name: 'kill', args: '<node id>', opts: 'aprhlT', flags: N, desc: 'kill node',
        load: () => import('./node/kill.js'),
      },
      {
        name: 'list', opts: 'aprhT', flags: N, json: true, desc: 'list nodes',
        load: () => import('./node/list.js'),
      },
      {
        name: 'info', opts: 'aprhT', flags: N, json: true, desc: 'show information about each node',
        load: () => import('./node/info.js'),
      },
      {
        name: 'recovery', args: '<max> <interval>', opts: 'aphPrT', flags: 0, json: true,
        desc: 'show recovery information or set/get recovery speed throttling of nodes',
        defaultNested: 'info',
        nested: [
          {
            name: 'info', desc: 'show recovery information of nodes (default)', flags: N, json: true,
            load: async () => (await import('./node/recovery.js')).info,
          },
          {
            name: 'set-throttle', desc: 'set new throttling', flags: A | N, args: '<max> <interval>',
            load: async () => (await import('./node/recovery.js')).setThrottle,
          },
          {
            name: 'get-throttle', desc: 'get current throttling', flags: N,
            load: async () => (await import('./node/recovery.js')).getThrottle,
          },
        ],
      },
      {
        name: 'md', args: '[disks]', opts: 'aprAfhT', flags: A, json: true, desc: "See 'dog node md' for more information",
        nested: [
          { name: 'info', desc: 'show multi-disk information', flags: N, json: true, load: async () => (await import('./node/md.js')).info },
          { name: 'plug', desc: 'plug more disk(s) into node', flags: A, load: async () => (await import('./node/md.js')).plug },
          {
            name: 'unplug', desc: 'unplug disk(s) from node', flags: A,
            load: async () => (await import('./node/md.js')).unplug,
          },
        ],
      },
      {
        name: 'stat', opts: 'aprwhT', flags: 0, desc: 'show stat information about the node',
        load: () => import('./node/stat.js'),
      },
      {
        name: 'log', opts: 'aphT', flags: A, desc: 'show or set log level of the node',
        nested: [
          {
            name: 'level', desc: 'manipulate loglevel', flags: A,
            nested: [
              {
                name: 'set', desc: 'set new loglevel', flags: A, args: '<log level>',
                load: async () => (await import('./node/log.js')).set,
              },
              { name: 'get', desc: 'get current loglevel', flags: 0, load: async () => (await import('./node/log.js')).get },
              {
                name: 'list', desc: 'list available loglevels', flags: 0,
                load: async () => (await import('./node/log.js')).list,
              },
            ],
          },
        ],
      },
      {
        name: 'vnodes', args: '<num of vnodes>', opts: 'aph', flags: A, desc: 'set new vnodes',
        nested: [{
          name: 'set', desc: 'set new vnodes', flags: A, args: '<num of vnodes>',
          load: async () => (await import('./node/vnodes.js')).set,
        }],
      },
      {
        name: 'format', args: '<directory of sheep> <a name of store format>', opts: 'aphT', flags: A,
        desc: 'initialize store format of the node', load: () => import('./node/format.js'),
      },
    ],
  },
  {
    name: 'cluster',
    family: 'cluster',
    subs: [
      {
        name: 'info', opts: 'aprhvTd', flags: N, json: true, desc: 'show cluster information',
        load: () => import('./cluster/info.js'),
      },
      {
        name: 'format', opts: 'bcltaphzTVRfF', flags: N, desc: 'create a Sheepdog store',
        load: () => import('./cluster/format.js'),
      },
      {
        name: 'shutdown', opts: 'aphT', flags: 0, desc: 'stop Sheepdog',
        load: () => import('./cluster/shutdown.js'),
      },
      {
        name: 'snapshot', args: '<tag|idx> <path> [vdi1] [vdi2] ...', opts: 'aphTm', flags: A,
        desc: 'snapshot/restore the cluster',
        nested: [
          { name: 'save', desc: 'save snapshot to localpath', flags: A | N, load: async () => (await import('./cluster/snapshot.js')).save },
          { name: 'list', desc: 'list snapshot of localpath', flags: A, load: async () => (await import('./cluster/snapshot.js')).list },
          { name: 'load', desc: 'load snapshot from localpath', flags: A | N, load: async () => (await import('./cluster/snapshot.js')).load },
          { name: 'show', desc: 'show vdi list from snapshot', flags: A | N, load: async () => (await import('./cluster/snapshot.js')).show },
        ],
      },
      {
        name: 'recover', opts: 'afphT', flags: A, desc: "See 'dog cluster recover' for more information",
        nested: [
          {
            name: 'force', desc: 'force recover cluster immediately', flags: 0,
            load: async () => (await import('./cluster/misc.js')).recoverForce,
          },
          {
            name: 'enable', desc: 'enable automatic recovery and run once recover if necessary', flags: 0,
            load: () => import('./cluster/recover-enable.js'),
          },
          {
            name: 'disable', desc: 'disable automatic recovery', flags: 0,
            load: () => import('./cluster/recover-disable.js'),
          },
        ],
      },
      {
        name: 'reweight', opts: 'aphT', flags: 0, desc: 'reweight the cluster',
        load: async () => (await import('./cluster/misc.js')).reweight,
      },
      {
        name: 'check', opts: 'aphT', flags: N, json: true, desc: 'check and repair cluster',
        load: () => import('./cluster/check.js'),
      },
      {
        name: 'alter-copy', opts: 'aphTcf', flags: N, desc: "set the cluster's redundancy level",
        load: () => import('./cluster/alter-copy.js'),
      },
    ],
  },
  {
    name: 'upgrade',
    family: 'upgrade',
    subs: [
      {
        name: 'inode-convert', args: '<path of original inode file> <path of new inode file>', opts: 'hTo',
        flags: A, desc: 'upgrade inode object file', note: NEVER_WRITTEN,
        load: async () => (await import('./upgrade.js')).inodeConvert,
      },
      {
        name: 'epoch-convert', args: '<path of original epoch log file> <path of new epoch log file>', opts: 'hTo',
        flags: A, desc: 'upgrade epoch log file', note: NEVER_WRITTEN,
        load: async () => (await import('./upgrade.js')).epochConvert,
      },
      {
        name: 'config-convert', args: '<path of original config file> <path of new config file>', opts: 'hT',
        flags: A, desc: 'upgrade config file', note: NEVER_WRITTEN,
        load: async () => (await import('./upgrade.js')).configConvert,
      },
      {
        name: 'object-location', args: '<path of latest epoch file> <oid>', opts: 'hT', flags: A,
        desc: 'print object location',
        load: async () => (await import('./upgrade.js')).objectLocation,
      },
    ],
  },
  {
    name: 'benchmark',
    family: 'benchmark',
    subs: [
      {
        name: 'io', args: '<vdiname>', opts: 'aprhTfwtn', flags: N | A, desc: 'benchmark I/O performance',
        load: () => import('./benchmark/io.js'),
      },
    ],
  },
];

export function findCommand(name: string | undefined): Command | undefined {
  return name === undefined ? undefined : COMMANDS.find((c) => c.name === name);
}

export function findSubcommand(cmd: Command, name: string | undefined): Subcommand | undefined {
  return name === undefined ? undefined : cmd.subs.find((s) => s.name === name);
}
