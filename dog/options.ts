/**
 * Every option letter dog knows, with the long name and the help text exactly
 * as 1.0 prints them. Which letters a subcommand accepts, and in what order its
 * usage lists them, comes from the subcommand's option string (commands.ts).
 */

export interface DogOption {
  ch: string;
  long: string;
  hasArg: boolean;
  desc: string;
}

/** Options shared by all commands; they win over a family's letter (none collide). */
export const GLOBAL_OPTIONS: readonly DogOption[] = [
  { ch: 'a', long: 'address', hasArg: true, desc: 'specify the daemon address (default: localhost)' },
  { ch: 'p', long: 'port', hasArg: true, desc: 'specify the daemon port' },
  {
    ch: 'r', long: 'raw', hasArg: false,
    desc: 'raw output mode: omit headers, separate fields with\n' +
      '                          single spaces and print all sizes in decimal bytes',
  },
  { ch: 'v', long: 'verbose', hasArg: false, desc: 'print more information than default' },
  { ch: 'h', long: 'help', hasArg: false, desc: 'display this help and exit' },
  { ch: 'T', long: 'time', hasArg: false, desc: 'show elapsed time' },
];

export type Family = 'vdi' | 'node' | 'cluster' | 'upgrade' | 'benchmark';

export const FAMILY_OPTIONS: Readonly<Record<Family, readonly DogOption[]>> = {
  vdi: [
    { ch: 'P', long: 'prealloc', hasArg: false, desc: 'preallocate all the data objects' },
    { ch: 'n', long: 'no-share', hasArg: false, desc: 'share nothing with its parent' },
    { ch: 'i', long: 'index', hasArg: true, desc: 'specify the index of data objects' },
    { ch: 's', long: 'snapshot', hasArg: true, desc: 'specify a snapshot id or tag name' },
    { ch: 'x', long: 'exclusive', hasArg: false, desc: 'write in an exclusive mode' },
    { ch: 'd', long: 'delete', hasArg: false, desc: 'delete a key' },
    { ch: 'w', long: 'writeback', hasArg: false, desc: 'use writeback mode' },
    { ch: 'c', long: 'copies', hasArg: true, desc: 'specify the data redundancy level' },
    { ch: 'F', long: 'from', hasArg: true, desc: 'create a differential backup from the snapshot' },
    { ch: 'f', long: 'force', hasArg: false, desc: 'do operation forcibly' },
    { ch: 'y', long: 'hyper', hasArg: false, desc: 'create a hyper volume' },
    { ch: 'o', long: 'oid', hasArg: true, desc: 'specify the object id of the tracking object' },
    {
      ch: 'e', long: 'exist', hasArg: false,
      desc: 'only check objects exist or not,\n                          neither comparing nor repairing',
    },
    { ch: 'z', long: 'block_size_shift', hasArg: true, desc: 'specify the bit shift num for data object size' },
    {
      ch: 'R', long: 'reduce-identical-snapshots', hasArg: false,
      desc: "do not create snapshot if working VDI doesn't have its own objects",
    },
  ],
  node: [
    { ch: 'A', long: 'all', hasArg: false, desc: 'show md information of all the nodes' },
    { ch: 'P', long: 'progress', hasArg: false, desc: 'show progress of recovery in the node' },
    { ch: 'w', long: 'watch', hasArg: false, desc: 'watch the stat every second' },
    { ch: 'l', long: 'local', hasArg: false, desc: 'issue request to local node' },
    { ch: 'f', long: 'force', hasArg: false, desc: 'ignore the confirmation' },
  ],
  cluster: [
    { ch: 'b', long: 'store', hasArg: true, desc: 'specify backend store' },
    { ch: 'c', long: 'copies', hasArg: true, desc: 'specify the default data redundancy (number of copies)' },
    { ch: 'f', long: 'force', hasArg: false, desc: 'do not prompt for confirmation' },
    { ch: 'F', long: 'avoid-diskfull', hasArg: false, desc: 'skip recovery if recovery process can cause disk full' },
    { ch: 'l', long: 'lock', hasArg: false, desc: 'Lock vdi to exclude multiple users' },
    { ch: 'm', long: 'multithread', hasArg: false, desc: "use multi-thread for 'cluster snapshot save'" },
    { ch: 'R', long: 'recyclevid', hasArg: false, desc: 'enable recycling of VID' },
    { ch: 't', long: 'strict', hasArg: false, desc: 'do not serve write request if number of nodes is not sufficient' },
    { ch: 'z', long: 'block_size_shift', hasArg: true, desc: 'specify the shift num of default data object size' },
    { ch: 'V', long: 'fixedvnodes', hasArg: false, desc: 'disable automatic vnodes calculation' },
    {
      ch: 'd', long: 'diff', hasArg: false,
      desc: 'just output the changes between the two adjacent epochesfor cluster info',
    },
  ],
  upgrade: [
    { ch: 'o', long: 'orig-version', hasArg: true, desc: 'version of converting file' },
  ],
  benchmark: [
    { ch: 'w', long: 'workqueue', hasArg: true, desc: 'specify workqueue type' },
    { ch: 'f', long: 'force', hasArg: false, desc: 'do not prompt for confirmation' },
    { ch: 't', long: 'total', hasArg: true, desc: 'a number of total operation (e.g. I/O request)' },
    { ch: 'n', long: 'nr-threads', hasArg: true, desc: 'a number of worker threads (only used for fixed workqueue)' },
  ],
};

/** The definition of one letter as a subcommand of `family` sees it. */
export function findOption(family: Family, ch: string): DogOption {
  const o = GLOBAL_OPTIONS.find((g) => g.ch === ch) ?? FAMILY_OPTIONS[family].find((f) => f.ch === ch);
  if (!o) throw new Error(`option -${ch} is not defined for ${family} commands`);
  return o;
}

/** The definitions of an option string, in its order. */
export function optionsOf(family: Family, opts: string): DogOption[] {
  return [...opts].map((ch) => findOption(family, ch));
}
