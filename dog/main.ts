/**
 * dog: the Sheepdog administrator utility. argv → command table → run → exit
 * status, with the original's order of checks (cli.md §2.1): command lookup,
 * environment, options in command-line order, node list, required argument,
 * the command itself, usage on EXIT_USAGE, then the -T line.
 */
import { getopt, type OptionDef } from '../shared/getopt.js';
import { fixed } from '../shared/cformat.js';
import { findCommand, findSubcommand, NEED_ARG, NEED_NODELIST } from './commands.js';
import { parsePort, resolveAddress } from './address.js';
import { Dog, type Target } from './context.js';
import { EXIT, ExitNow } from './exit.js';
import { FORMAT_KEY, FORMAT_OPTION, parseFormat } from './json.js';
import { runSubcommand, type Invocation } from './nested.js';
import { applyOption } from './option-values.js';
import { optionsOf } from './options.js';
import { err, flushStdout, out } from './output.js';
import { commandListing, subcommandUsage, topLevelHelp } from './usage.js';

const TRY_HELP = "Try 'dog --help' for more information.";
const isHelpWord = (s: string): boolean => s === 'help' || s === '--help' || s === '-h';

/**
 * The options processed before getopt stopped at an error, so that they act
 * (and maybe end dog) in command-line order, as with the original's loop.
 */
function optionsBeforeError(argv: string[], defs: OptionDef[], message: string) {
  for (let k = 1; k <= argv.length; k++) {
    const r = getopt('dog', argv.slice(0, k), defs);
    if (!r.ok && r.message === message) {
      const before = getopt('dog', argv.slice(0, k - 1), defs);
      return before.ok ? before.options : [];
    }
  }
  return [];
}

async function run(argv: string[], dog: Dog): Promise<number> {
  if (process.env.SHEEPDOG_DOG_LOG !== undefined) {
    await (await import('./audit-log.js')).logOperation(process.argv.slice(1));
  }
  if (argv.length === 0) {
    out(topLevelHelp());
    throw new ExitNow(EXIT.SUCCESS);
  }
  const cmd = findCommand(argv[0]);
  if (!cmd) {
    if (!isHelpWord(argv[0]!)) {
      err(`Invalid command '${argv[0]}'`);
      err(TRY_HELP);
      throw new ExitNow(EXIT.USAGE);
    }
    out(topLevelHelp());
    throw new ExitNow(EXIT.SUCCESS);
  }
  const sub = findSubcommand(cmd, argv[1]);
  if (!sub) {
    if (argv[1] !== undefined && !isHelpWord(argv[1])) err(`Invalid command '${cmd.name} ${argv[1]}'`);
    for (const line of commandListing(cmd)) err(line);
    throw new ExitNow(EXIT.USAGE);
  }
  const inv: Invocation = { cmd, sub, argc: argv.length + 1 };
  const usage = (code: number): never => {
    out(subcommandUsage(cmd, sub));
    throw new ExitNow(code);
  };

  const envAddr = process.env.SHEEPDOG_DOG_ADDR;
  if (envAddr !== undefined) {
    const host = await resolveAddress(envAddr);
    if (host === undefined) {
      err(`Invalid ip address ${envAddr}`);
      throw new ExitNow(EXIT.FAILURE);
    }
    dog.target = { ...dog.target, host };
  }
  const envPort = process.env.SHEEPDOG_DOG_PORT;
  if (envPort !== undefined) {
    const port = parsePort(envPort);
    if (port === undefined) {
      err(`Invalid port number '${envPort}'`);
      throw new ExitNow(EXIT.USAGE);
    }
    dog.target = { ...dog.target, port };
  }

  const defs: OptionDef[] = optionsOf(cmd.family, sub.opts).map((o) => ({ short: o.ch, long: o.long, hasArg: o.hasArg }));
  if (sub.json) defs.push(FORMAT_OPTION);
  const rest = argv.slice(2);
  const parsed = getopt('dog', rest, defs);
  const options = parsed.ok ? parsed.options : optionsBeforeError(rest, defs, parsed.message);
  for (const { short, value } of options) {
    const v = value ?? '';
    switch (short) {
      case 'a': {
        const host = await resolveAddress(v);
        if (host === undefined) {
          err(`Invalid ip address ${v}`);
          throw new ExitNow(EXIT.FAILURE);
        }
        dog.target = { ...dog.target, host } satisfies Target;
        break;
      }
      case 'p': {
        const port = parsePort(v);
        if (port === undefined) {
          err(`Invalid port number '${v}'`);
          throw new ExitNow(EXIT.USAGE);
        }
        dog.target = { ...dog.target, port };
        break;
      }
      case 'r': dog.raw = true; break;
      case 'v': dog.verbose = true; break;
      case 'h': usage(EXIT.SUCCESS); break;
      case 'T': dog.showTime = true; break;
      case FORMAT_KEY: dog.format = parseFormat(v); break;
      default: applyOption(cmd.family, short, value, dog.opts);
    }
  }
  if (!parsed.ok) {
    err(parsed.message);
    err(TRY_HELP);
    throw new ExitNow(EXIT.USAGE);
  }

  // the node list comes before the argument check (a dead daemon wins over usage)
  if (sub.flags & NEED_NODELIST) await dog.loadNodeList();
  if (sub.flags & NEED_ARG && parsed.args.length === 0) usage(EXIT.USAGE);

  const ret = await runSubcommand(dog, inv, parsed.args);
  if (dog.showTime) out(`\nElapsed time: ${fixed(performance.now() / 1000, 3)} seconds\n`);
  return ret;
}

function finish(code: number): never {
  flushStdout();
  process.exit(code);
}

/**
 * A failure nobody expected (a bug, or a reply dog cannot make sense of): say it
 * plainly, in red on a terminal (chalk is loaded only here, so it costs the
 * commands nothing).
 */
async function crashed(e: unknown): Promise<never> {
  const msg = e instanceof Error ? e.message : String(e);
  const { stderrPaint } = await import('../shared/colour.js');
  err(stderrPaint().red(`dog: ${msg}`));
  if (process.env.SHEEPDOG_DOG_DEBUG && e instanceof Error && e.stack) err(e.stack);
  finish(EXIT.SYSFAIL);
}

process.on('unhandledRejection', (e) => (e instanceof ExitNow ? finish(e.code) : void crashed(e)));

const dog = new Dog();
try {
  finish(await run(process.argv.slice(2), dog));
} catch (e) {
  if (e instanceof ExitNow) finish(e.code);
  await crashed(e);
}
