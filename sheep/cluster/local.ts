import { procInfo } from './proc.js';
import { watch, type FSWatcher } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { LogClusterDriver } from './engine.js';
import type { LogBackend } from './log-backend.js';

export const DEFAULT_LOCAL_DIR = '/tmp/sheepdog_shm';

const seqName = (seq: number) => String(seq).padStart(10, '0');

interface Registration {
  pid: number;
  start: string;
  joinSeq: number | null;
  /** every event below this has been read (absent: none reported yet) */
  readSeq?: number;
}

/**
 * The `local` cluster driver's storage: a directory shared by the sheep of one
 * host (`-c local:DIR`, default /tmp/sheepdog_shm). Events are files claimed
 * with link(2), which fails if the name exists, so numbering is atomic; the
 * registry holds one file per process with its pid and start time, and a
 * process counts as alive while that pid runs with that start time.
 */
export class LocalBackend implements LogBackend {
  private readonly logDir: string;
  private readonly memberDir: string;
  private readonly tmpDir: string;
  private nextSeq = 0;
  private watchers: FSWatcher[] = [];
  /** temporary file names: unique in the process, also with several backends in it (tests) */
  private static tmpCounter = 0;

  constructor(private readonly dir: string) {
    this.logDir = join(dir, 'log');
    this.memberDir = join(dir, 'members');
    this.tmpDir = join(dir, 'tmp');
  }

  async init(): Promise<void> {
    const st = await fsp.stat(this.dir).catch(() => undefined);
    if (st && !st.isDirectory()) {
      throw new Error(`${this.dir} exists and is not a directory (the local driver keeps its cluster state in a directory)`);
    }
    for (const d of [this.logDir, this.memberDir, this.tmpDir]) await fsp.mkdir(d, { recursive: true });
  }

  private async writeTmp(data: Buffer | string): Promise<string> {
    const tmp = join(this.tmpDir, `${process.pid}.${++LocalBackend.tmpCounter}`);
    await fsp.writeFile(tmp, data);
    return tmp;
  }

  async register(id: string): Promise<void> {
    const me = await procInfo(process.pid);
    await this.writeRegistration(id, { pid: process.pid, start: me?.start ?? '', joinSeq: null });
  }

  private async writeRegistration(id: string, r: Registration): Promise<void> {
    const tmp = await this.writeTmp(JSON.stringify(r));
    await fsp.rename(tmp, join(this.memberDir, id));
  }

  async setJoinSeq(id: string, seq: number): Promise<void> {
    const r = JSON.parse(await fsp.readFile(join(this.memberDir, id), 'utf8')) as Registration;
    await this.writeRegistration(id, { ...r, joinSeq: seq });
  }

  async setReadSeq(id: string, seq: number): Promise<void> {
    const r = JSON.parse(await fsp.readFile(join(this.memberDir, id), 'utf8')) as Registration;
    await this.writeRegistration(id, { ...r, readSeq: seq });
  }

  async readSeqs(only?: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const id of only ?? await fsp.readdir(this.memberDir)) {
      try {
        const r = JSON.parse(await fsp.readFile(join(this.memberDir, id), 'utf8')) as Registration;
        const at = r.readSeq ?? r.joinSeq;
        if (at !== null && at !== undefined) out.set(id, at);
      } catch {
        continue; // removed meanwhile
      }
    }
    return out;
  }
  /**
   * Every member scans the registry several times a second, so with N sheep on
   * a host that is N² file reads a scan. What the scan uses of a registration
   * (pid, start time, join sequence) changes once, when the join sequence is
   * set (its read position changes on, but only readSeqs() reads that), and ids
   * are never reused: once settled it is kept here and the scan reads only the
   * directory and each pid's /proc entry.
   */
  private readonly settled = new Map<string, Registration>();

  async alive(): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    const ids = await fsp.readdir(this.memberDir);
    if (this.settled.size > ids.length) {
      const present = new Set(ids);
      for (const id of this.settled.keys()) if (!present.has(id)) this.settled.delete(id);
    }
    for (const id of ids) {
      let r = this.settled.get(id);
      if (!r) {
        try {
          r = JSON.parse(await fsp.readFile(join(this.memberDir, id), 'utf8')) as Registration;
        } catch {
          continue; // removed meanwhile
        }
        if (r.joinSeq !== null) this.settled.set(id, r);
      }
      const p = await procInfo(r.pid);
      if (p && p.running && p.start === r.start) out.set(id, r.joinSeq ?? undefined);
    }
    return out;
  }

  async unregister(id: string): Promise<void> {
    await fsp.rm(join(this.memberDir, id), { force: true });
  }

  async maxSeq(): Promise<number> {
    let max = 0;
    for (const name of await fsp.readdir(this.logDir)) {
      if (/^\d{10}$/.test(name)) max = Math.max(max, Number(name));
    }
    return max;
  }

  async append(data: Buffer): Promise<number> {
    const tmp = await this.writeTmp(data);
    try {
      if (this.nextSeq === 0) this.nextSeq = (await this.maxSeq()) + 1;
      // the slot tried is kept here: read() and other appends move nextSeq while
      // link() is in flight, and bumping it again afterwards left a hole in the
      // log that stalled every reader for good
      for (let seq = this.nextSeq; ; seq++) {
        try {
          await fsp.link(tmp, join(this.logDir, seqName(seq)));
          this.nextSeq = Math.max(this.nextSeq, seq + 1);
          return seq;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          seq = Math.max(seq, this.nextSeq - 1);
        }
      }
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async read(seq: number): Promise<Buffer | undefined> {
    try {
      const b = await fsp.readFile(join(this.logDir, seqName(seq)));
      if (seq >= this.nextSeq) this.nextSeq = seq + 1;
      return b;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async resolve(seq: number, data: Buffer): Promise<Buffer> {
    const tmp = await this.writeTmp(data);
    try {
      await fsp.link(tmp, join(this.logDir, `${seqName(seq)}.res`));
      return data;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      return (await this.readResolution(seq))!;
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async readResolution(seq: number): Promise<Buffer | undefined> {
    try {
      return await fsp.readFile(join(this.logDir, `${seqName(seq)}.res`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async trim(belowSeq: number): Promise<void> {
    for (const name of await fsp.readdir(this.logDir)) {
      const seq = Number(name.slice(0, 10));
      if (seq < belowSeq) await fsp.rm(join(this.logDir, name), { force: true });
    }
  }

  onChange(fn: () => void): void {
    const w = watch(this.logDir, () => fn());
    w.on('error', () => {});
    this.watchers.push(w);
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

export async function createLocalDriver(option: string, log: Logger): Promise<LogClusterDriver> {
  const backend = new LocalBackend(option || DEFAULT_LOCAL_DIR);
  await backend.init();
  return new LogClusterDriver('local', backend, log, async () => '127.0.0.1');
}
