/**
 * Colour for text a person reads on a terminal (the `npm start` banner, dog's
 * crash message), through chalk: it colours only a terminal (per stream) and
 * follows FORCE_COLOR; NO_COLOR (no-color.org), which chalk does not read,
 * turns colour off here. Never used for output the original prints: scripts
 * and golden files see the same bytes on any stream.
 */
import { Chalk, supportsColor, supportsColorStderr, type ChalkInstance } from 'chalk';

const noColor = (): boolean => (process.env.NO_COLOR ?? '') !== '';

let out: ChalkInstance | undefined;
let errs: ChalkInstance | undefined;

/** Paint for stdout. */
export function stdoutPaint(): ChalkInstance {
  out ??= new Chalk({ level: noColor() || !supportsColor ? 0 : supportsColor.level });
  return out;
}

/** Paint for stderr. */
export function stderrPaint(): ChalkInstance {
  errs ??= new Chalk({ level: noColor() || !supportsColorStderr ? 0 : supportsColorStderr.level });
  return errs;
}
