/**
 * Help, listings and usage texts, generated from the command table, against the
 * blocks of the reference transcript (shared/spec/reference/dog-transcript.txt).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMANDS, findCommand, findSubcommand, type Command, type Subcommand } from '../../dog/commands.js';
import { optionsOf, FAMILY_OPTIONS, GLOBAL_OPTIONS } from '../../dog/options.js';
import { commandListing, subcommandUsage, topLevelHelp } from '../../dog/usage.js';

const lines = (...l: string[]): string => l.join('\n') + '\n';

function sub(cmd: string, name: string): [Command, Subcommand] {
  const c = findCommand(cmd)!;
  return [c, findSubcommand(c, name)!];
}
const usage = (cmd: string, name: string): string => subcommandUsage(...sub(cmd, name));

const A = '  -a, --address           specify the daemon address (default: localhost)';
const P = '  -p, --port              specify the daemon port';
const H = '  -h, --help              display this help and exit';
const T = '  -T, --time              show elapsed time';
const R = [
  '  -r, --raw               raw output mode: omit headers, separate fields with',
  '                          single spaces and print all sizes in decimal bytes',
];
const V = '  -v, --verbose           print more information than default';

test('top-level help (dog, dog help, dog --help)', () => {
  assert.is(topLevelHelp(), lines(
    'Sheepdog administrator utility (version 1.0.1)',
    'Usage: dog <command> <subcommand> [options]',
    '',
    'Available commands:',
    "  vdi check               check and repair image's consistency",
    '  vdi create              create an image',
    '  vdi snapshot            create a snapshot',
    '  vdi clone               clone an image',
    '  vdi delete              delete an image',
    '  vdi rollback            rollback to a snapshot',
    '  vdi list                list images',
    '  vdi tree                show images in tree view format',
    '  vdi graph               show images in Graphviz dot format',
    '  vdi object              show object information in the image',
    '  vdi track               show the object epoch trace in the image',
    '  vdi setattr             set a VDI attribute',
    '  vdi getattr             get a VDI attribute',
    '  vdi resize              resize an image',
    '  vdi read                read data from an image',
    '  vdi write               write data to an image',
    '  vdi backup              create an incremental backup between two snapshots and outputs to STDOUT',
    '  vdi restore             restore snapshot images from a backup provided in STDIN',
    "  vdi alter-copy          set the vdi's redundancy level",
    "  vdi lock                See 'dog vdi lock' for more information",
    '  node kill               kill node',
    '  node list               list nodes',
    '  node info               show information about each node',
    '  node recovery           show recovery information or set/get recovery speed throttling of nodes',
    "  node md                 See 'dog node md' for more information",
    '  node stat               show stat information about the node',
    '  node log                show or set log level of the node',
    '  node vnodes             set new vnodes',
    '  node format             initialize store format of the node',
    '  cluster info            show cluster information',
    '  cluster format          create a Sheepdog store',
    '  cluster shutdown        stop Sheepdog',
    '  cluster snapshot        snapshot/restore the cluster',
    "  cluster recover         See 'dog cluster recover' for more information",
    '  cluster reweight        reweight the cluster',
    '  cluster check           check and repair cluster',
    "  cluster alter-copy      set the cluster's redundancy level",
    '  upgrade inode-convert   upgrade inode object file',
    '  upgrade epoch-convert   upgrade epoch log file',
    '  upgrade config-convert  upgrade config file',
    '  upgrade object-location print object location',
    '  benchmark io            benchmark I/O performance',
    '',
    "For more information, run 'dog <command> <subcommand> --help'.",
  ));
});

test('Available <cmd> commands listings', () => {
  assert.equal(commandListing(findCommand('node')!), [
    'Available node commands:', '  node kill', '  node list', '  node info', '  node recovery', '  node md',
    '  node stat', '  node log', '  node vnodes', '  node format',
  ]);
  assert.equal(commandListing(findCommand('cluster')!), [
    'Available cluster commands:', '  cluster info', '  cluster format', '  cluster shutdown', '  cluster snapshot',
    '  cluster recover', '  cluster reweight', '  cluster check', '  cluster alter-copy',
  ]);
  const vdi = commandListing(findCommand('vdi')!);
  assert.is(vdi.length, 21);
  assert.is(vdi[1], '  vdi check');
  assert.is(vdi[20], '  vdi lock');
});

test('vdi create --help', () => {
  assert.is(usage('vdi', 'create'), lines(
    'Usage: dog vdi create [-P] [-y] [-c copies] [-a address] [-p port] [-h] [-r] [-v] [-z block_size_shift] [-T] <vdiname> <size>',
    'Options:',
    '  -P, --prealloc          preallocate all the data objects',
    '  -y, --hyper             create a hyper volume',
    '  -c, --copies            specify the data redundancy level',
    A, P, H, ...R, V,
    '  -z, --block_size_shift  specify the bit shift num for data object size',
    T,
  ));
});

test('vdi write / read / list / resize / clone usage', () => {
  assert.is(usage('vdi', 'write'), lines(
    'Usage: dog vdi write [-a address] [-p port] [-w] [-h] [-T] <vdiname> [<offset> [<len>]]',
    'Options:', A, P, '  -w, --writeback         use writeback mode', H, T,
  ));
  assert.is(usage('vdi', 'read'), lines(
    'Usage: dog vdi read [-s snapshot] [-a address] [-p port] [-h] [-T] <vdiname> [<offset> [<len>]]',
    'Options:', '  -s, --snapshot          specify a snapshot id or tag name', A, P, H, T,
  ));
  assert.is(usage('vdi', 'list'), lines(
    'Usage: dog vdi list [-a address] [-p port] [-r] [-h] [-o oid] [-T] [vdiname]',
    'Options:', A, P, ...R, H, '  -o, --oid               specify the object id of the tracking object', T,
  ));
  assert.is(usage('vdi', 'resize'), lines(
    'Usage: dog vdi resize [-a address] [-p port] [-h] [-T] <vdiname> <new size>',
    'Options:', A, P, H, T,
  ));
  assert.is(usage('vdi', 'clone'), lines(
    'Usage: dog vdi clone [-s snapshot] [-P] [-n] [-a address] [-p port] [-h] [-r] [-v] [-T] <src vdi> <dst vdi>',
    'Options:',
    '  -s, --snapshot          specify a snapshot id or tag name',
    '  -P, --prealloc          preallocate all the data objects',
    '  -n, --no-share          share nothing with its parent',
    A, P, H, ...R, V, T,
  ));
});

test('usage of commands with nested subcommands', () => {
  assert.is(usage('vdi', 'object'), lines(
    'Usage: dog vdi object {location|map|dump-inode} [-i index] [-s snapshot] [-a address] [-p port] [-h] [-T] <vdiname>',
    'Available subcommands:',
    '  location                show object location information',
    '  map                     show object map information',
    '  dump-inode              dump inode information',
    'Options:',
    '  -i, --index             specify the index of data objects',
    '  -s, --snapshot          specify a snapshot id or tag name',
    A, P, H, T,
  ));
  assert.is(usage('cluster', 'recover'), lines(
    'Usage: dog cluster recover {force|enable|disable} [-a address] [-f] [-p port] [-h] [-T]',
    'Available subcommands:',
    '  force                   force recover cluster immediately',
    '  enable                  enable automatic recovery and run once recover if necessary',
    '  disable                 disable automatic recovery',
    'Options:', A, '  -f, --force             do not prompt for confirmation', P, H, T,
  ));
  assert.is(usage('node', 'vnodes'), lines(
    'Usage: dog node vnodes set [-a address] [-p port] [-h] <num of vnodes>',
    'Available subcommands:',
    '  set                     set new vnodes',
    'Options:', A, P, H,
  ));
  assert.is(usage('node', 'md'), lines(
    'Usage: dog node md {info|plug|unplug} [-a address] [-p port] [-r] [-A] [-f] [-h] [-T] [disks]',
    'Available subcommands:',
    '  info                    show multi-disk information',
    '  plug                    plug more disk(s) into node',
    '  unplug                  unplug disk(s) from node',
    'Options:', A, P, ...R,
    '  -A, --all               show md information of all the nodes',
    '  -f, --force             ignore the confirmation',
    H, T,
  ));
  assert.is(usage('cluster', 'snapshot'), lines(
    'Usage: dog cluster snapshot {save|list|load|show} [-a address] [-p port] [-h] [-T] [-m] <tag|idx> <path> [vdi1] [vdi2] ...',
    'Available subcommands:',
    '  save                    save snapshot to localpath',
    '  list                    list snapshot of localpath',
    '  load                    load snapshot from localpath',
    '  show                    show vdi list from snapshot',
    'Options:', A, P, H, T,
    "  -m, --multithread       use multi-thread for 'cluster snapshot save'",
  ));
});

test('nested usage names the consumed levels and offers the deepest choices', () => {
  const [c, s] = sub('node', 'log');
  const level = s.nested![0]!;
  assert.is(subcommandUsage(c, s, [level]).split('\n')[0], 'Usage: dog node log level {set|get|list} [-a address] [-p port] [-h] [-T]');
  assert.is(subcommandUsage(c, s).split('\n')[0], 'Usage: dog node log level [-a address] [-p port] [-h] [-T]');
});

test('cluster format --help and cluster shutdown -h', () => {
  assert.is(usage('cluster', 'format'), lines(
    'Usage: dog cluster format [-b store] [-c copies] [-l] [-t] [-a address] [-p port] [-h] [-z block_size_shift] [-T] [-V] [-R] [-f] [-F]',
    'Options:',
    '  -b, --store             specify backend store',
    '  -c, --copies            specify the default data redundancy (number of copies)',
    '  -l, --lock              Lock vdi to exclude multiple users',
    '  -t, --strict            do not serve write request if number of nodes is not sufficient',
    A, P, H,
    '  -z, --block_size_shift  specify the shift num of default data object size',
    T,
    '  -V, --fixedvnodes       disable automatic vnodes calculation',
    '  -R, --recyclevid        enable recycling of VID',
    '  -f, --force             do not prompt for confirmation',
    '  -F, --avoid-diskfull    skip recovery if recovery process can cause disk full',
  ));
  assert.is(usage('cluster', 'shutdown'), lines(
    'Usage: dog cluster shutdown [-a address] [-p port] [-h] [-T]', 'Options:', A, P, H, T,
  ));
});

test('every option string names known options, none twice', () => {
  for (const c of COMMANDS) {
    for (const s of c.subs) {
      assert.is(new Set(s.opts).size, s.opts.length, `${c.name} ${s.name}`);
      assert.not.throws(() => optionsOf(c.family, s.opts));
    }
  }
  const globals = new Set(GLOBAL_OPTIONS.map((o) => o.ch));
  for (const opts of Object.values(FAMILY_OPTIONS)) for (const o of opts) assert.not.ok(globals.has(o.ch), o.ch);
});

test.run();
