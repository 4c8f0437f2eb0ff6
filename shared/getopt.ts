/**
 * GNU getopt_long with argument permutation, producing glibc's exact messages.
 * dog, sheep and sheepfs scripts and golden files depend on both the parsing
 * rules (options anywhere, `--`, unique long prefixes) and the wording.
 */

export interface OptionDef {
  /** the short letter, e.g. 'p'; a longer key (never a typed letter) for a long-only option */
  short: string;
  long: string;
  hasArg: boolean;
  /**
   * Matched only when spelt in full, never as an abbreviation: an option added
   * beside the original's set (dog's --format) must not make an abbreviation
   * that worked before ambiguous (`--for` for --force) or change its meaning.
   */
  exactOnly?: boolean;
}

export interface ParsedOption {
  short: string;
  value: string | undefined;
}

export type GetoptResult =
  | { ok: true; options: ParsedOption[]; args: string[] }
  | { ok: false; message: string };

/**
 * Parse argv (without the program name). `allowed` lists the short letters in
 * the order of the original option string; only those are recognised.
 */
export function getopt(prog: string, argv: readonly string[], allowed: readonly OptionDef[]): GetoptResult {
  const options: ParsedOption[] = [];
  const args: string[] = [];
  const byShort = new Map(allowed.filter((o) => o.short.length === 1).map((o) => [o.short, o]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const exact = allowed.find((o) => o.long === name);
      const candidates = exact ? [exact] : allowed.filter((o) => !o.exactOnly && o.long.startsWith(name));
      if (candidates.length === 0) return { ok: false, message: `${prog}: unrecognized option '--${body}'` };
      if (candidates.length > 1) {
        const list = candidates.map((o) => ` '--${o.long}'`).join('');
        return { ok: false, message: `${prog}: option '--${body}' is ambiguous; possibilities:${list}` };
      }
      const opt = candidates[0]!;
      if (eq >= 0) {
        if (!opt.hasArg) return { ok: false, message: `${prog}: option '--${opt.long}' doesn't allow an argument` };
        options.push({ short: opt.short, value: body.slice(eq + 1) });
      } else if (opt.hasArg) {
        if (i + 1 >= argv.length) return { ok: false, message: `${prog}: option '--${opt.long}' requires an argument` };
        options.push({ short: opt.short, value: argv[++i] });
      } else {
        options.push({ short: opt.short, value: undefined });
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const opt = byShort.get(c);
        if (!opt || c === ':') return { ok: false, message: `${prog}: invalid option -- '${c}'` };
        if (!opt.hasArg) {
          options.push({ short: c, value: undefined });
          continue;
        }
        if (j + 1 < a.length) {
          options.push({ short: c, value: a.slice(j + 1) });
        } else if (i + 1 < argv.length) {
          options.push({ short: c, value: argv[++i] });
        } else {
          return { ok: false, message: `${prog}: option requires an argument -- '${c}'` };
        }
        break;
      }
      continue;
    }
    args.push(a);
  }
  return { ok: true, options, args };
}
