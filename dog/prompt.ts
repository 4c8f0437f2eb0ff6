/**
 * Confirmation prompts (cli.md §2.1.5): the text goes to stdout (buffered when
 * not a terminal, so it shows up at exit), one line of at most 7 bytes is read
 * from stdin, and anything but an answer starting with "yes" (any case) ends
 * dog with status 0.
 */
import { readSync } from 'node:fs';
import { EXIT, ExitNow } from './exit.js';
import { flushStdout, out, stdoutIsTTY } from './output.js';

/** The 5-line sheep banner with up to three text lines; the last one is the question. */
export function banner(line1: string, line2: string, line3: string): string {
  return '    __\n' +
    "   ()'`;\n" +
    `   /\\|\`${line1 ? `  ${line1}` : ''}\n` +
    `  /  |   ${line2}\n` +
    `(/_)_|_  ${line3} [yes/no]: `;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** fgets(buf, 8, stdin): up to 7 bytes, stopping after a newline; '' at EOF. */
export function readAnswer(): string {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  while (bytes.length < 7) {
    let n: number;
    try {
      n = readSync(0, one, 0, 1, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleepCell, 0, 0, 10);
        continue;
      }
      if (code === 'EINTR') continue;
      break; // EOF-like: no usable stdin
    }
    if (n === 0) break;
    bytes.push(one[0]!);
    if (one[0] === 0x0a) break;
  }
  return Buffer.from(bytes).toString('latin1');
}

/** Ask; returns only when the answer is yes, else exits 0. */
export function confirm(message: string): void {
  out(message);
  // a terminal shows the question before we wait (glibc flushes line-buffered
  // stdout when it reads stdin); a pipe or file gets it only at exit
  if (stdoutIsTTY()) flushStdout();
  const answer = readAnswer();
  if (answer.slice(0, 3).toLowerCase() !== 'yes') throw new ExitNow(EXIT.SUCCESS);
}
