/**
 * The "farm": `dog cluster snapshot`'s local store, in Sheepdog 1.0's on-disk
 * format (its dog/farm/), so that either program loads what the other saved.
 *
 *   PATH/objects/XX/YYYY...   content-addressed files: named by the SHA-1 of
 *                             their bytes (2 + 38 hex digits), stored as is
 *   PATH/user_snap            a 32-byte header (magic, version, the cluster's
 *                             copies, policy and block size shift), then one
 *                             296-byte record per snapshot: idx, tag, time,
 *                             the SHA-1 of its trunk
 *
 * A trunk lists the saved objects, 32 bytes each: oid, copies, policy, shift,
 * and the SHA-1 of the object's slice list; a slice list is the SHA-1s of the
 * object's 128 KiB slices (equal slices are stored once).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { strerror } from '../errno.js';
import { err } from '../output.js';

export const FARM_MAGIC = 0xfee1c001;
export const FARM_VERSION = 1;
const SLICE_SIZE = 128 * 1024;
const SHA1_SIZE = 20;
const HEADER_SIZE = 32;
const TAG_LEN = 256;
/** struct snap_log: u32 idx, char tag[256], (4 bytes padding), u64 time, sha1[20], (4 bytes padding) */
export const SNAP_LOG_SIZE = 296;
const LOG_TIME_AT = 264;
const LOG_SHA1_AT = 272;
export const TRUNK_ENTRY_SIZE = 32;

export interface FarmHeader {
  copies: number;
  copyPolicy: number;
  blockSizeShift: number;
}

export interface SnapLog {
  idx: number;
  tag: string;
  /** seconds since the epoch */
  time: number;
  trunk: Buffer;
}

export interface TrunkEntry {
  oid: bigint;
  copies: number;
  copyPolicy: number;
  blockSizeShift: number;
  sha1: Buffer;
}

export const sha1Of = (b: Buffer): Buffer => createHash('sha1').update(b).digest();

/** A failure already reported on stderr (the command then prints its own last line). */
export class FarmError extends Error {}

function fail(message: string): never {
  err(message);
  throw new FarmError(message);
}

export class Farm {
  private constructor(readonly dir: string) {}

  get objects(): string {
    return join(this.dir, 'objects');
  }

  get logPath(): string {
    return join(this.dir, 'user_snap');
  }

  /** farm_init: the directory, objects/00..ff and an empty user_snap, made when missing. */
  static open(dir: string): Farm {
    try {
      try {
        if (!statSync(dir).isDirectory()) fail(`Path is not a directory: ${dir}`);
      } catch (e) {
        if (e instanceof FarmError) throw e;
        mkdirSync(dir, { mode: 0o755 });
      }
      const f = new Farm(dir);
      mkdirSync(f.objects, { recursive: true, mode: 0o755 });
      for (let i = 0; i < 256; i++) mkdirSync(join(f.objects, i.toString(16).padStart(2, '0')), { recursive: true, mode: 0o755 });
      try {
        closeSync(openSync(f.logPath, 'wx', 0o666));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      return f;
    } catch (e) {
      if (e instanceof FarmError) {
        err('Fail to init farm.');
        throw e;
      }
      err(`Fail to create directory: ${strerror(e)}`);
      err('Fail to init farm.');
      throw new FarmError(String(e));
    }
  }

  private pathOf(sha1: Buffer): string {
    const hex = sha1.toString('hex');
    return join(this.objects, hex.slice(0, 2), hex.slice(2));
  }

  /** sha1_file_write: store the bytes under their SHA-1 (once). */
  writeFile(b: Buffer): Buffer {
    const sha1 = sha1Of(b);
    try {
      writeFileSync(this.pathOf(sha1), b, { flag: 'wx', mode: 0o666 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fail(`failed to open file ${this.pathOf(sha1)} with error: ${strerror(e)}`);
    }
    return sha1;
  }

  /** sha1_file_read, checking the content against its name. */
  readFile(sha1: Buffer): Buffer {
    let b: Buffer;
    try {
      b = readFileSync(this.pathOf(sha1));
    } catch (e) {
      fail(`${this.pathOf(sha1)}: ${strerror(e)}`);
    }
    const got = sha1Of(b);
    if (!got.equals(sha1)) fail(`failed, ${sha1.toString('hex')} != ${got.toString('hex')}`);
    return b;
  }

  /** slice_write: the object in 128 KiB slices; the SHA-1 of their list. */
  writeObject(b: Buffer): Buffer {
    const list: Buffer[] = [];
    for (let at = 0; at < b.length; at += SLICE_SIZE) list.push(this.writeFile(b.subarray(at, at + SLICE_SIZE)));
    return this.writeFile(Buffer.concat(list));
  }

  readObject(sha1: Buffer): Buffer {
    const list = this.readFile(sha1);
    const parts: Buffer[] = [];
    for (let at = 0; at + SHA1_SIZE <= list.length; at += SHA1_SIZE) parts.push(this.readFile(list.subarray(at, at + SHA1_SIZE)));
    return Buffer.concat(parts);
  }

  writeTrunk(entries: readonly TrunkEntry[]): Buffer {
    const b = Buffer.alloc(entries.length * TRUNK_ENTRY_SIZE);
    entries.forEach((e, i) => {
      const at = i * TRUNK_ENTRY_SIZE;
      b.writeBigUInt64LE(e.oid, at);
      b[at + 8] = e.copies;
      b[at + 9] = e.copyPolicy;
      b[at + 10] = e.blockSizeShift;
      e.sha1.copy(b, at + 12);
    });
    return this.writeFile(b);
  }

  readTrunk(sha1: Buffer): TrunkEntry[] {
    const b = this.readFile(sha1);
    const entries: TrunkEntry[] = [];
    for (let at = 0; at + TRUNK_ENTRY_SIZE <= b.length; at += TRUNK_ENTRY_SIZE) {
      entries.push({
        oid: b.readBigUInt64LE(at), copies: b[at + 8]!, copyPolicy: b[at + 9]!, blockSizeShift: b[at + 10]!,
        sha1: Buffer.from(b.subarray(at + 12, at + 12 + SHA1_SIZE)),
      });
    }
    return entries;
  }

  /** snap_log_read_hdr: undefined while no snapshot was saved (an empty file). */
  readHeader(): FarmHeader | undefined {
    const b = readFileSync(this.logPath);
    if (b.length === 0) return undefined;
    if (b.length < HEADER_SIZE) fail('failed to read log header');
    if (b.readUInt32LE(0) !== FARM_MAGIC) fail('magic number mismatch');
    return { copies: b[8]!, copyPolicy: b[9]!, blockSizeShift: b[10]! };
  }

  writeHeader(h: FarmHeader): void {
    const b = Buffer.alloc(HEADER_SIZE);
    b.writeUInt32LE(FARM_MAGIC, 0);
    b.writeUInt32LE(FARM_VERSION, 4);
    b[8] = h.copies;
    b[9] = h.copyPolicy;
    b[10] = h.blockSizeShift;
    const fd = openSync(this.logPath, 'r+');
    try {
      writeSync(fd, b, 0, b.length, 0);
    } finally {
      closeSync(fd);
    }
  }

  readLogs(): SnapLog[] {
    if (!this.readHeader()) return [];
    const b = readFileSync(this.logPath);
    const logs: SnapLog[] = [];
    for (let at = HEADER_SIZE; at + SNAP_LOG_SIZE <= b.length; at += SNAP_LOG_SIZE) {
      const tag = b.subarray(at + 4, at + 4 + TAG_LEN);
      const nul = tag.indexOf(0);
      logs.push({
        idx: b.readUInt32LE(at), tag: tag.subarray(0, nul < 0 ? TAG_LEN : nul).toString('utf8'),
        time: Number(b.readBigUInt64LE(at + LOG_TIME_AT)), trunk: Buffer.from(b.subarray(at + LOG_SHA1_AT, at + LOG_SHA1_AT + SHA1_SIZE)),
      });
    }
    return logs;
  }

  appendLog(idx: number, tag: string, trunk: Buffer): void {
    const b = Buffer.alloc(SNAP_LOG_SIZE);
    b.writeUInt32LE(idx, 0);
    const t = Buffer.from(tag, 'utf8').subarray(0, TAG_LEN - 1);
    t.copy(b, 4);
    b.writeBigUInt64LE(BigInt(Math.floor(Date.now() / 1000)), LOG_TIME_AT);
    trunk.copy(b, LOG_SHA1_AT);
    appendFileSync(this.logPath, b);
  }

  /** get_trunk_sha1: the first record whose index or tag matches. */
  findTrunk(idx: number, tag: string): Buffer | undefined {
    return this.readLogs().find((l) => l.idx === idx || l.tag === tag)?.trunk;
  }
}
