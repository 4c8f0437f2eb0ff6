/**
 * The progress bar (cli.md §2.1.6), drawn only when stdout is a terminal:
 * `\r%5.1f %% [====>   ] done / total`, padded to the terminal width, with a
 * newline once done reaches total.
 */
import { fixed } from '../shared/cformat.js';
import { formatSize } from '../shared/size.js';
import { flushStdout, out, stdoutIsTTY } from './output.js';

const DEFAULT_SCREEN_WIDTH = 80;

function screenWidth(): number {
  try {
    const cols = (process.stdout as { columns?: number }).columns;
    return cols && cols > 0 ? cols : DEFAULT_SCREEN_WIDTH;
  } catch {
    return DEFAULT_SCREEN_WIDTH;
  }
}

export function progressLine(done: number, total: number, width: number, raw: boolean): string {
  const barLength = width - 30;
  let s = `${fixed(total === 0 ? 100 : (done / total) * 100, 1).padStart(5)} % [`;
  for (let i = 0; i < barLength; i++) {
    if ((total * (i + 1)) / barLength <= done) s += '=';
    else if ((total * i) / barLength <= done && done < (total * (i + 1)) / barLength) s += '>';
    else s += ' ';
  }
  s += `] ${formatSize(done, raw)} / ${formatSize(total, raw)}`;
  s = s.slice(0, width);
  return s.padEnd(width);
}

export function showProgress(done: number, total: number, raw = false): void {
  if (!stdoutIsTTY()) return;
  const width = screenWidth();
  if (width <= 0) return;
  out(`\r${progressLine(done, total, width, raw)}`);
  if (done === total) out('\n');
  flushStdout();
}
