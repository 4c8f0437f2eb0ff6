/**
 * Help and usage texts, generated from the command table. Pure functions that
 * return the text; the caller decides where it goes and how dog exits.
 */
import { COMMANDS, type Command, type NestedCommand, type Subcommand } from './commands.js';
import { optionsOf } from './options.js';
import { DOG_VERSION } from './version.js';

const col24 = (s: string): string => s.padEnd(24);

/** `dog`, `dog help`, `dog --help`: the list of every command (stdout, exit 0). */
export function topLevelHelp(): string {
  const lines = [
    `Sheepdog administrator utility (version ${DOG_VERSION})`,
    'Usage: dog <command> <subcommand> [options]',
    '',
    'Available commands:',
  ];
  for (const c of COMMANDS) {
    for (const s of c.subs.filter((x) => !x.hidden)) lines.push(`  ${col24(`${c.name} ${s.name}`)}${s.desc}`);
  }
  lines.push('', "For more information, run 'dog <command> <subcommand> --help'.");
  return lines.join('\n') + '\n';
}

/** The stderr lines after `Invalid command` or for `dog <cmd>` alone. */
export function commandListing(cmd: Command): string[] {
  return [`Available ${cmd.name} commands:`, ...cmd.subs.filter((s) => !s.hidden).map((s) => `  ${cmd.name} ${s.name}`)];
}

/**
 * The usage of a subcommand (stdout). `consumed` are the nested commands already
 * chosen on the command line, deepest last; the choices offered are those of the
 * deepest one, or of the subcommand itself.
 */
export function subcommandUsage(cmd: Command, sub: Subcommand, consumed: readonly NestedCommand[] = []): string {
  const opts = optionsOf(cmd.family, sub.opts);
  let line = `Usage: dog ${cmd.name} ${sub.name}`;
  for (const n of consumed) line += ` ${n.name}`;
  const choices = consumed.length > 0 ? consumed[consumed.length - 1]!.nested : sub.nested;
  if (choices && choices.length === 1) line += ` ${choices[0]!.name}`;
  else if (choices && choices.length > 1) line += ` {${choices.map((n) => n.name).join('|')}}`;
  for (const o of opts) line += o.hasArg ? ` [-${o.ch} ${o.long}]` : ` [-${o.ch}]`;
  if (sub.args) line += ` ${sub.args}`;
  const lines = [line];
  if (choices && choices.length > 0) {
    lines.push('Available subcommands:');
    for (const n of choices) lines.push(`  ${col24(n.name)}${n.desc}`);
  }
  lines.push('Options:');
  for (const o of opts) lines.push(`  ${col24(`-${o.ch}, --${o.long}`)}${o.desc}`);
  if (sub.note) lines.push(sub.note);
  return lines.join('\n') + '\n';
}
