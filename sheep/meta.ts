import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { assert } from '../shared/errors.js';
import { readCString, writeCString } from '../shared/inode.js';
import { decodeNodes, encodeNodes, SD_NODE_SIZE, type SdNode } from '../shared/node.js';
import { decodeVdiState, encodeVdiState, VDI_STATE_SIZE, type VdiState } from '../shared/proto/vdi-state.js';

/** The sheep's config record: the 40-byte sheepdog_config of the original. */
export interface StoredConfig {
  ctime: bigint;
  flags: number;
  copies: number;
  defaultStore: string;
  /** true when the last stop was a clean cluster shutdown */
  shutdown: boolean;
  copyPolicy: number;
  blockSizeShift: number;
  space: bigint;
}

export const SD_FORMAT_VERSION = 6;
const CONFIG_SIZE = 40;

function encodeConfig(c: StoredConfig): Buffer {
  const b = Buffer.alloc(CONFIG_SIZE);
  b.writeBigUInt64LE(c.ctime, 0);
  b.writeUInt16LE(c.flags, 8);
  b[10] = c.copies;
  writeCString(b, 11, 16, c.defaultStore);
  b[27] = c.shutdown ? 1 : 0;
  b[28] = c.copyPolicy;
  b[29] = c.blockSizeShift;
  b.writeUInt16LE(SD_FORMAT_VERSION, 30);
  b.writeBigUInt64LE(c.space, 32);
  return b;
}

function decodeConfig(b: Buffer): StoredConfig & { version: number } {
  assert(b.length === CONFIG_SIZE, 'config record is 40 bytes');
  return {
    ctime: b.readBigUInt64LE(0),
    flags: b.readUInt16LE(8),
    copies: b[10]!,
    defaultStore: readCString(b, 11, 16),
    shutdown: b[27] !== 0,
    copyPolicy: b[28]!,
    blockSizeShift: b[29]!,
    version: b.readUInt16LE(30),
    space: b.readBigUInt64LE(32),
  };
}

export interface EpochRecord {
  epoch: number;
  nodes: SdNode[];
  /** seconds since the Unix epoch */
  time: bigint;
}

const epochKey = (e: number) => `epoch/${String(e).padStart(8, '0')}`;
const vdiKey = (vid: number) => `vdi/${vid.toString(16).padStart(6, '0')}`;
const objKey = (name: string) => `obj/${name}`;
const decrefKey = (token: bigint) => `decref/${token.toString(16).padStart(16, '0')}`;
const SYNC = { sync: true };

/** The write of each file in progress: writes of one file take turns (they share its .tmp). */
const fileWrites = new Map<string, Promise<void>>();

/**
 * Write a file so that a reader sees the old content or the new, never a mix.
 * Two writes of the same file (one epoch log fetched by two recoveries at once)
 * run one after the other, else the second rename finds the .tmp gone.
 */
function writeFileAtomic(path: string, data: Buffer): Promise<void> {
  const prev = fileWrites.get(path) ?? Promise.resolve();
  const p = prev.catch(() => {}).then(() => writeFileNow(path, data));
  fileWrites.set(path, p);
  void p.catch(() => {}).then(() => { if (fileWrites.get(path) === p) fileWrites.delete(path); });
  return p;
}

async function writeFileNow(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await fsp.open(tmp, 'w', 0o640);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
}

/**
 * The sheep's own metadata in LevelDB: config, epoch log, VDI states and an
 * index of the objects in the local store. Config and epochs are written with
 * sync (they decide what a restarted node believes); the object index is a
 * cache the start-up scan reconciles with the store, so it is not synced.
 * Config and epoch logs are also mirrored as the original's files
 * (`config`, `epoch/%08u`) because tools and scripts read those.
 */
export class MetaStore {
  private constructor(private readonly db: Level<string, Buffer>, private readonly baseDir: string) {}

  static async open(dir: string, baseDir: string): Promise<MetaStore> {
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    await fsp.mkdir(join(baseDir, 'epoch'), { recursive: true });
    await fsp.rm(join(baseDir, 'config.tmp'), { force: true });
    return new MetaStore(db, baseDir);
  }

  private epochFile(epoch: number): string {
    return join(this.baseDir, 'epoch', String(epoch).padStart(8, '0'));
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async get(key: string): Promise<Buffer | undefined> {
    return (await this.db.get(key)) ?? undefined;
  }

  async getConfig(): Promise<(StoredConfig & { version: number }) | undefined> {
    const b = await this.get('config');
    return b ? decodeConfig(b) : undefined;
  }

  async putConfig(c: StoredConfig): Promise<void> {
    const b = encodeConfig(c);
    await this.db.put('config', b, SYNC);
    await writeFileAtomic(join(this.baseDir, 'config'), b);
  }

  async putEpoch(r: EpochRecord): Promise<void> {
    const nodes = encodeNodes(r.nodes);
    const b = Buffer.alloc(nodes.length + 8);
    nodes.copy(b, 0);
    b.writeBigUInt64LE(r.time, nodes.length);
    await this.db.put(epochKey(r.epoch), b, SYNC);
    await writeFileAtomic(this.epochFile(r.epoch), b);
  }

  async getEpoch(epoch: number): Promise<EpochRecord | undefined> {
    const b = await this.get(epochKey(epoch));
    if (!b) return undefined;
    const n = Math.floor((b.length - 8) / SD_NODE_SIZE);
    return { epoch, nodes: decodeNodes(b, n), time: b.readBigUInt64LE(b.length - 8) };
  }

  /** Raw epoch record (nodes then 8-byte time), as GET_EPOCH sends it. */
  getEpochRaw(epoch: number): Promise<Buffer | undefined> {
    return this.get(epochKey(epoch));
  }

  async latestEpoch(): Promise<number> {
    for await (const key of this.db.keys({ gte: 'epoch/', lt: 'epoch0', reverse: true, limit: 1 })) {
      return Number(key.slice('epoch/'.length));
    }
    return 0;
  }

  async clearEpochs(): Promise<void> {
    await this.db.clear({ gte: 'epoch/', lt: 'epoch0' });
    const dir = join(this.baseDir, 'epoch');
    for (const name of await fsp.readdir(dir)) await fsp.rm(join(dir, name), { force: true });
  }

  async putVdiStates(states: VdiState[]): Promise<void> {
    if (states.length === 0) return;
    const ops = states.map((s) => {
      const b = Buffer.alloc(VDI_STATE_SIZE);
      encodeVdiState(s, b, 0);
      return { type: 'put' as const, key: vdiKey(s.vid), value: b };
    });
    await this.db.batch(ops, SYNC);
  }

  async delVdiStates(vids: number[]): Promise<void> {
    if (vids.length === 0) return;
    await this.db.batch(vids.map((vid) => ({ type: 'del' as const, key: vdiKey(vid) })), SYNC);
  }

  async loadVdiStates(): Promise<VdiState[]> {
    const out: VdiState[] = [];
    for await (const v of this.db.values({ gte: 'vdi/', lt: 'vdi0' })) out.push(decodeVdiState(v, 0));
    return out;
  }

  async clearVdiStates(): Promise<void> {
    await this.db.clear({ gte: 'vdi/', lt: 'vdi0' });
  }

  /** Record a local object (name = file name without directory). */
  putObj(name: string, epoch: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(epoch >>> 0);
    return this.db.put(objKey(name), b);
  }

  delObj(name: string): Promise<void> {
    return this.db.del(objKey(name));
  }

  async listObjs(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for await (const [k, v] of this.db.iterator({ gte: 'obj/', lt: 'obj0' })) {
      out.set(k.slice(4), v.readUInt32LE(0));
    }
    return out;
  }

  async clearObjs(): Promise<void> {
    await this.db.clear({ gte: 'obj/', lt: 'obj0' });
  }

  /** A DECREF applied here (its token), with when (ms): synced, so a retry after a restart is known. */
  async putDecrefToken(token: bigint, at: number): Promise<void> {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(at, 0);
    await this.db.put(decrefKey(token), b, SYNC);
  }

  async hasDecrefToken(token: bigint): Promise<boolean> {
    return (await this.get(decrefKey(token))) !== undefined;
  }

  delDecrefToken(token: bigint): Promise<void> {
    return this.db.del(decrefKey(token));
  }

  /** Forget the DECREF tokens recorded before `before` (ms). */
  async pruneDecrefTokens(before: number): Promise<void> {
    const old: string[] = [];
    for await (const [k, v] of this.db.iterator({ gte: 'decref/', lt: 'decref0' })) if (v.readDoubleLE(0) < before) old.push(k);
    if (old.length > 0) await this.db.batch(old.map((key) => ({ type: 'del', key })) as never);
  }

  async reconcileObjs(present: Iterable<string>, epoch: number): Promise<void> {
    const indexed = await this.listObjs();
    const ops: { type: 'put' | 'del'; key: string; value?: Buffer }[] = [];
    const seen = new Set<string>();
    for (const name of present) {
      seen.add(name);
      if (!indexed.has(name)) {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(epoch >>> 0);
        ops.push({ type: 'put', key: objKey(name), value: b });
      }
    }
    for (const name of indexed.keys()) if (!seen.has(name)) ops.push({ type: 'del', key: objKey(name) });
    if (ops.length > 0) await this.db.batch(ops as never);
  }
}
