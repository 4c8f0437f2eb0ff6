/**
 * `--format json`: the machine-readable form of the reports operators script
 * (man/dog.8, "JSON OUTPUT"). Sheepdog 1.0 has no such option; it is long-only
 * and matched only in full, so every command line the original accepts parses
 * as before, and the text output is untouched.
 *
 * Conventions: snake_case names; numbers are JSON numbers, sizes in bytes, times
 * in seconds since the epoch; object and VDI ids are lowercase hex strings
 * without `0x` (the digits dog prints). One JSON document, then a newline.
 */
import type { OptionDef } from '../shared/getopt.js';
import { EXIT, ExitNow } from './exit.js';
import { err, out } from './output.js';

/** The key getopt reports the option under (no letter can be typed as it). */
export const FORMAT_KEY = '--format';

export const FORMAT_OPTION: OptionDef = { short: FORMAT_KEY, long: 'format', hasArg: true, exactOnly: true };

export type OutputFormat = 'text' | 'json';

export function parseFormat(value: string): OutputFormat {
  if (value === 'text' || value === 'json') return value;
  err(`Invalid output format '${value}' (expected json or text)`);
  throw new ExitNow(EXIT.USAGE);
}

/** JSON text of a value, indented by two; bigints become integer literals (their exact digits). */
export function jsonText(value: unknown, indent = ''): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + jsonText(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${jsonText(v, inner)}`).join(',\n')}\n${indent}}`;
}

export function printJson(value: unknown): void {
  out(jsonText(value) + '\n');
}

export const hexId = (n: number | bigint): string => n.toString(16);

/** Not every command has a JSON form. */
export function noJson(path: string): never {
  err(`dog: '${path}' has no --format json output`);
  throw new ExitNow(EXIT.USAGE);
}
