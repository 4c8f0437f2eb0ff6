/**
 * Progress of long dog work, drawn only for a person watching a terminal.
 *
 *  - The original's bar (cli.md §2.1.6): `\r%5.1f %% [====>   ] done / total`,
 *    padded to the terminal width, on stdout when stdout is a terminal, with a
 *    newline once done reaches total. vdi check, vdi create -P, vdi clone and
 *    node recovery -P draw it as 1.0 does (showProgress).
 *  - Work the original shows nothing for (vdi read/write of more than a few
 *    objects, backup, restore, alter-copy), and the commands above when their
 *    stdout is not a terminal, draw the same bar with the rate and the time
 *    left on stderr, when stderr is a terminal (Progress). Pipes and files
 *    never see either, so scripts and golden outputs are unchanged.
 */
import { isatty } from 'node:tty';
import { fixed } from '../shared/cformat.js';
import { formatSize } from '../shared/size.js';
import { flushStdout, out, setStderrLineOpen, stdoutIsTTY, writeAllSync } from './output.js';

const DEFAULT_SCREEN_WIDTH = 80;
/** Work on this many objects or fewer is quick: no stderr progress. */
export const FEW_OBJECTS = 4;
/** The stderr line is redrawn at most this often (a fast write updates thousands of times a second). */
const REDRAW_MS = 250;
/** The rate is measured over about this long a window, so that it follows changes. */
const RATE_WINDOW_MS = 5_000;

function columnsOf(fd: 1 | 2): number {
  try {
    const cols = (fd === 1 ? process.stdout : process.stderr as { columns?: number }).columns;
    return cols && cols > 0 ? cols : DEFAULT_SCREEN_WIDTH;
  } catch {
    return DEFAULT_SCREEN_WIDTH;
  }
}

function bar(done: number, total: number, barLength: number): string {
  let s = '';
  for (let i = 0; i < barLength; i++) {
    if ((total * (i + 1)) / barLength <= done) s += '=';
    else if ((total * i) / barLength <= done && done < (total * (i + 1)) / barLength) s += '>';
    else s += ' ';
  }
  return s;
}

const percent = (done: number, total: number): string => fixed(total === 0 ? 100 : (done / total) * 100, 1).padStart(5);

export function progressLine(done: number, total: number, width: number, raw: boolean): string {
  let s = `${percent(done, total)} % [${bar(done, total, width - 30)}] ${formatSize(done, raw)} / ${formatSize(total, raw)}`;
  s = s.slice(0, width);
  return s.padEnd(width);
}

/** The original's bar on stdout (a terminal only). */
export function showProgress(done: number, total: number, raw = false): void {
  if (!stdoutIsTTY()) return;
  const width = columnsOf(1);
  if (width <= 0) return;
  out(`\r${progressLine(done, total, width, raw)}`);
  if (done === total) out('\n');
  flushStdout();
}

/** `1:02:03`, `2:03`; `--:--` when unknown. */
export function durationText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * The stderr line: `[label ] 42.0 % [===>   ] 420 MB / 1.0 GB  85 MB/s  ETA 0:07`
 * in `width` columns (one left free so that the terminal does not wrap).
 */
export function rateLine(label: string, done: number, total: number, bytesPerSec: number, etaSec: number, width: number): string {
  const rate = Number.isFinite(bytesPerSec) && bytesPerSec > 0 ? `${formatSize(Math.round(bytesPerSec))}/s` : '- MB/s';
  if (!Number.isFinite(total)) {
    // a stream of unknown length: what is done and how fast
    return `${label ? `${label} ` : ''}${formatSize(done)}  ${rate}`.slice(0, width - 1).padEnd(width - 1);
  }
  const head = `${label ? `${label} ` : ''}${percent(done, total)} % [`;
  const tail = `] ${formatSize(done)} / ${formatSize(total)}  ${rate}  ETA ${durationText(etaSec)}`;
  const room = width - 1 - head.length - tail.length;
  const line = room >= 10 ? head + bar(done, total, room) + tail : `${head.slice(0, -2)} ${tail.slice(2)}`;
  return line.slice(0, width - 1).padEnd(width - 1);
}

/** One piece of long work measured in bytes; see the module comment for where it shows. */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly samples: { at: number; done: number }[] = [];
  private readonly mode: 'stdout' | 'stderr' | 'none';

  /**
   * @param total bytes the work will cover (Infinity: a stream of unknown length)
   * @param objects how many objects it touches (few: nothing is drawn on stderr)
   * @param o.originalBar 1.0 draws its bar on stdout for this work
   */
  constructor(
    private readonly total: number,
    objects: number,
    private readonly o: { label?: string; originalBar?: boolean; raw?: boolean } = {},
  ) {
    if (o.originalBar && stdoutIsTTY()) this.mode = 'stdout';
    else if (objects > FEW_OBJECTS && isatty(2)) this.mode = 'stderr';
    else this.mode = 'none';
    if (this.mode === 'stderr') this.samples.push({ at: performance.now(), done: 0 });
  }

  get shown(): boolean {
    return this.mode !== 'none';
  }

  /** `bytes` more are done. */
  advance(bytes: number): void {
    this.update(this.done + bytes);
  }

  update(done: number): void {
    this.done = Math.min(done, this.total);
    if (this.mode === 'stdout') {
      if (this.done < this.total) showProgress(this.done, this.total, this.o.raw);
      return;
    }
    if (this.mode !== 'stderr') return;
    const now = performance.now();
    if (this.drawn && now - this.lastDraw < REDRAW_MS) return;
    this.draw(now);
  }

  /** The work is complete: the full bar and its newline. */
  end(): void {
    this.done = this.total;
    if (this.mode === 'stdout') showProgress(this.total, this.total, this.o.raw);
    else if (this.mode === 'stderr') {
      this.draw(performance.now());
      this.closeLine();
    }
  }

  /** The work stopped short (an error follows): end the stderr line where it is (1.0's bar just stops). */
  abort(): void {
    if (this.mode === 'stderr' && this.drawn) this.closeLine();
  }

  private closeLine(): void {
    setStderrLineOpen(false);
    try {
      writeAllSync(2, Buffer.from('\n'));
    } catch {
      // the terminal went away
    }
  }

  private draw(now: number): void {
    this.samples.push({ at: now, done: this.done });
    while (this.samples.length > 2 && now - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const secs = (now - first.at) / 1000;
    const rate = secs > 0 ? (this.done - first.done) / secs : NaN;
    const eta = rate > 0 ? (this.total - this.done) / rate : NaN;
    const line = rateLine(this.o.label ?? '', this.done, this.total, rate, eta, columnsOf(2));
    try {
      writeAllSync(2, Buffer.from(`\r${line}`));
    } catch {
      // the terminal went away: progress is not worth failing for
    }
    this.drawn = true;
    this.lastDraw = now;
    setStderrLineOpen(true);
  }
}
