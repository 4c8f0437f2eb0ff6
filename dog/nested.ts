/**
 * Running a subcommand: its module, or for commands with nested names
 * (`dog node md info`) the nested command named by the first argument, as the
 * original's do_generic_subcommand does, quirks included.
 */
import { NEED_ARG, NEED_NODELIST, type Command, type NestedCommand, type Subcommand } from './commands.js';
import type { Dog } from './context.js';
import { EXIT, ExitNow } from './exit.js';
import { noJson } from './json.js';
import { err, out } from './output.js';
import { subcommandUsage } from './usage.js';

/** Where a command stands on the command line, for its usage text. */
export interface Invocation {
  cmd: Command;
  sub: Subcommand;
  /** argc of the original (program name included), used by one quirk */
  argc: number;
}

function notImplemented(path: string): never {
  err(`dog: '${path}' is not implemented yet`);
  throw new ExitNow(EXIT.FAILURE);
}

function usageExit(inv: Invocation, consumed: readonly NestedCommand[], code: number): never {
  out(subcommandUsage(inv.cmd, inv.sub, consumed));
  throw new ExitNow(code);
}

/** Run the subcommand with its positional arguments; EXIT_USAGE prints its usage. */
export async function runSubcommand(dog: Dog, inv: Invocation, args: string[]): Promise<number> {
  const { cmd, sub } = inv;
  if (sub.load) {
    const ret = await (await sub.load()).run(dog, args);
    if (ret === EXIT.USAGE) usageExit(inv, [], EXIT.USAGE);
    return ret;
  }
  if (sub.nested) {
    if (args.length === 0 && sub.defaultNested) {
      const n = sub.nested.find((c) => c.name === sub.defaultNested)!;
      if (n.flags & NEED_NODELIST) await dog.loadNodeList();
      return runNested(dog, inv, [n], args);
    }
    return dispatch(dog, inv, [], args);
  }
  notImplemented(`${cmd.name} ${sub.name}`);
}

async function dispatch(
  dog: Dog, inv: Invocation, consumed: readonly NestedCommand[], args: string[],
): Promise<number> {
  const choices = consumed.length > 0 ? consumed[consumed.length - 1]!.nested! : inv.sub.nested!;
  const n = choices.find((c) => c.name === args[0]);
  // an unknown nested name prints the usage and exits 1 (not 64)
  if (!n) usageExit(inv, consumed, EXIT.FAILURE);
  const path = [...consumed, n];
  if (n.flags & NEED_NODELIST) await dog.loadNodeList();
  // the original compares the raw argc (options included) with 5
  if (n.flags & NEED_ARG && inv.argc < 5) usageExit(inv, path, EXIT.USAGE);
  return runNested(dog, inv, path, args.slice(1));
}

async function runNested(
  dog: Dog, inv: Invocation, path: readonly NestedCommand[], args: string[],
): Promise<number> {
  const n = path[path.length - 1]!;
  if (dog.json && n.load && !n.json) noJson([inv.cmd.name, inv.sub.name, ...path.map((p) => p.name)].join(' '));
  if (!n.load) {
    if (n.nested) return dispatch(dog, inv, path, args);
    notImplemented([inv.cmd.name, inv.sub.name, ...path.map((p) => p.name)].join(' '));
  }
  const ret = await (await n.load()).run(dog, args);
  if (ret === EXIT.USAGE) usageExit(inv, path, EXIT.USAGE);
  return ret;
}
