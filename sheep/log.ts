import { createWriteStream, renameSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';

export const LOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
const LEVEL_LABEL = ['EMERG', 'ALERT', 'CRIT', 'ERROR', 'WARN', 'NOTICE', 'INFO', 'DEBUG'];
export const LOG = { EMERG: 0, ALERT: 1, CRIT: 2, ERR: 3, WARNING: 4, NOTICE: 5, INFO: 6, DEBUG: 7 } as const;

export type LogFormat = 'server' | 'default' | 'json';
export type LogDst = 'default' | 'stdout' | 'syslog';

export interface LogOptions {
  level: number;
  dir: string;
  format: LogFormat;
  dst: LogDst;
  port: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');
/** Rotate when the log grows past this (the original's 500 MB). */
const MAX_LOG_BYTES = 500 * 1024 * 1024;

/**
 * The sheep log: `<dir>/sheep.log` by default. Writes are asynchronous (a
 * stream), so logging never blocks request handling. SIGHUP rotates.
 */
export class Logger {
  level: number;
  private stream: WriteStream | null = null;
  private written = 0;

  constructor(private readonly opts: LogOptions) {
    this.level = opts.level;
  }

  get path(): string {
    return join(this.opts.dir, 'sheep.log');
  }

  open(): void {
    if (this.opts.dst !== 'default') return;
    this.stream = createWriteStream(this.path, { flags: 'a' });
    this.stream.on('error', () => { this.stream = null; });
  }

  /** Rename the current file to sheep.log.YYYY-MM-DD-HH-MM and start a new one. */
  rotate(): void {
    if (this.opts.dst !== 'default') return;
    const d = new Date();
    const suffix = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}-${p2(d.getHours())}-${p2(d.getMinutes())}`;
    this.stream?.end();
    try { renameSync(this.path, `${this.path}.${suffix}`); } catch { /* nothing to rotate */ }
    this.written = 0;
    this.open();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.stream) return resolve();
      this.stream.end(resolve);
      this.stream = null;
    });
  }

  private format(level: number, where: string, msg: string): string {
    const d = new Date();
    if (this.opts.format === 'default') return `${msg}\n`;
    if (this.opts.format === 'json') {
      const sec = Math.floor(d.getTime() / 1000);
      const usec = (d.getTime() % 1000) * 1000;
      const esc = msg.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
      return `{ "user_info": {"program_name": "sheep", "port": ${this.opts.port}},"body": {"second": ${sec}, "usecond": ${usec}, "worker_name": "main", "worker_idx": 0, "func": "${where}", "line": 0, "msg": "${esc}"} }\n`;
    }
    const ts = `${MONTHS[d.getMonth()]} ${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
    return `${ts} ${LEVEL_LABEL[level]!.padStart(6)} [main] ${where} ${msg}\n`;
  }

  log(level: number, where: string, msg: string): void {
    if (level > this.level) return;
    const line = this.format(level, where, msg);
    if (this.opts.dst === 'stdout') {
      process.stdout.write(line);
      return;
    }
    if (this.opts.dst === 'syslog' || !this.stream) {
      process.stderr.write(line);
      return;
    }
    this.stream.write(line);
    this.written += line.length;
    if (this.written > MAX_LOG_BYTES) this.rotate();
  }

  err(where: string, msg: string): void { this.log(LOG.ERR, where, msg); }
  warn(where: string, msg: string): void { this.log(LOG.WARNING, where, msg); }
  info(where: string, msg: string): void { this.log(LOG.INFO, where, msg); }
  debug(where: string, msg: string): void { this.log(LOG.DEBUG, where, msg); }
}

/** A logger that writes nothing, for code run outside a daemon (tests, tools). */
export const silentLogger = (): Logger =>
  new Logger({ level: -1, dir: '/', format: 'default', dst: 'stdout', port: 0 });
