/**
 * The journal (-j). In process: a journal over a store that loses everything
 * not synced at a "crash" (as a power cut would), with a ring small enough to
 * wrap many times; after every crash the replay must bring back exactly the
 * acknowledged operations, and a torn record must not be replayed. With real
 * processes: a journaled sheep is killed -9 in the middle of a write stream;
 * after restart every acknowledged write reads back and the write in flight is
 * either wholly there or wholly absent.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Logger } from '../../sheep/log.js';
import { JOURNAL_FILE, JournalStore } from '../../sheep/store/journal.js';
import { objectName, type ObjectRef, type ObjectStore, type SpaceInfo } from '../../sheep/store/store.js';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { readVdi, sha } from '../lib/recovery.js';

const MiB = 1024 * 1024;
const quiet = () => new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });

/** An in-memory store whose un-synced changes vanish at crash(). */
class CrashableStore implements ObjectStore {
  readonly kind = 'crashable';
  durable = new Map<string, Buffer>();
  live = new Map<string, Buffer>();
  stale = new Map<string, Buffer>();
  init = async () => {};
  crash(): void {
    this.live = new Map([...this.durable].map(([k, v]) => [k, Buffer.from(v)]));
  }
  exists(ref: ObjectRef) { return this.live.has(objectName(ref.oid, ref.ec)); }
  async recheck(ref: ObjectRef) { return this.exists(ref); }
  async read(ref: ObjectRef, offset: number, length: number) {
    const b = this.live.get(objectName(ref.oid, ref.ec));
    if (!b) throw new SdError(SD_RES.NO_OBJ);
    return Buffer.from(b.subarray(offset, offset + length));
  }
  async write(ref: ObjectRef, offset: number, data: Buffer) {
    const b = this.live.get(objectName(ref.oid, ref.ec));
    if (!b) throw new SdError(SD_RES.NO_OBJ);
    data.copy(b, offset);
  }
  async create(ref: ObjectRef, offset: number, data: Buffer, fullSize: number) {
    const b = Buffer.alloc(fullSize);
    data.copy(b, offset);
    this.live.set(objectName(ref.oid, ref.ec), b);
  }
  async remove(ref: ObjectRef) {
    if (!this.live.delete(objectName(ref.oid, ref.ec))) throw new SdError(SD_RES.NO_OBJ);
  }
  names() { return this.live.keys(); }
  oids() { return [...this.live.keys()].map((n) => BigInt('0x' + n)).sort((a, b) => (a < b ? -1 : 1)); }
  async space(): Promise<SpaceInfo> { return { size: 0n, free: 0n, used: 0n }; }
  async purge() { this.live.clear(); }
  async moveToStale(ref: ObjectRef, epoch: number) {
    const name = objectName(ref.oid, ref.ec);
    const b = this.live.get(name);
    if (!b) throw new SdError(SD_RES.NO_OBJ);
    this.live.delete(name);
    this.stale.set(`${name}.${epoch}`, b);
  }
  staleEpoch() { return undefined; }
  async readStale(): Promise<Buffer> { throw new SdError(SD_RES.NO_OBJ); }
  staleOids() { return []; }
  async purgeStale() {}
  async sync() {
    this.durable = new Map([...this.live].map(([k, v]) => [k, Buffer.from(v)]));
  }
  async close() {}
}

const OBJ_SIZE = 64 * 1024;

test('in process: replay after crashes at random points restores exactly the acknowledged operations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-journal-'));
  try {
    const inner = new CrashableStore();
    const model = new Map<string, Buffer>();
    // a ring of 256 KiB: the ~1000 operations below wrap it many times
    const open = async () => {
      const j = new JournalStore(inner, { dir, size: 256 * 1024, skip: false, nosync: true, log: quiet() });
      await j.init(1);
      return j;
    };
    let j = await open();
    /** crashed journals stay referenced: their descriptors are not ours to close */
    const crashed: JournalStore[] = [];
    let seed = 1;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (let round = 0; round < 12; round++) {
      const ops = 40 + rnd(80);
      for (let k = 0; k < ops; k++) {
        const oid = BigInt(1 + rnd(12));
        const ref = { oid, ec: undefined };
        const name = objectName(oid, undefined);
        const have = model.get(name);
        const kind = rnd(10);
        if (!have || kind === 0) {
          const off = rnd(OBJ_SIZE / 2);
          const data = randomBytes(rnd(8192) + 1);
          await j.create(ref, off, data, OBJ_SIZE, 1);
          const b = Buffer.alloc(OBJ_SIZE);
          data.copy(b, off);
          model.set(name, b);
        } else if (kind === 1) {
          await j.remove(ref);
          model.delete(name);
        } else {
          const off = rnd(OBJ_SIZE - 1);
          const data = randomBytes(Math.min(OBJ_SIZE - off, rnd(16384) + 1));
          await j.write(ref, off, data);
          data.copy(have, off);
        }
      }
      // power cut: the inner store loses what was not synced; sometimes a half-written record follows
      inner.crash();
      if (round % 3 === 1) {
        const fd = openSync(join(dir, JOURNAL_FILE), 'r+');
        const ring = readFileSync(join(dir, JOURNAL_FILE));
        let last = 0;
        for (let at = 0; at < ring.length; at += 512) if (ring.readUInt32LE(at) === 0xfee1900d) last = at;
        writeSync(fd, randomBytes(700), 0, 700, last + 512 * 40);
        closeSync(fd);
      }
      crashed.push(j);
      j = await open();
      assert.equal([...inner.live.keys()].sort(), [...model.keys()].sort(), `round ${round}: the same objects`);
      for (const [name, b] of model) assert.ok(inner.live.get(name)!.equals(b), `round ${round}: ${name} as acknowledged`);
    }
    await j.close();
    inner.crash();
    assert.equal([...inner.live.keys()].sort(), [...model.keys()].sort(), 'a clean close leaves the store durable');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 of journaled sheep during a write stream: acknowledged writes survive, none half-written', async () => {
  // two sheep killed together, so that both stay in the last epoch and both replay
  const cluster = await TestCluster.start({
    nodes: 2, copies: 2, nosync: false, sheepArgs: () => ['-j', 'size=64M'],
  });
  try {
    const VDI = 32 * MiB;
    const CHUNK = 4 * MiB;
    let r = await cluster.dog(['vdi', 'create', 'j', String(VDI)]);
    assert.is(r.code, 0, r.stderr);
    const model = Buffer.alloc(VDI);
    const write = (off: number, data: Buffer) => cluster.dog(['vdi', 'write', 'j', String(off), String(data.length)], { input: data });
    // 96 MiB through a 64 MiB ring: it wraps
    for (let k = 0; k < 24; k++) {
      const off = (k % 8) * CHUNK;
      const data = randomBytes(CHUNK);
      r = await write(off, data);
      assert.is(r.code, 0, r.stderr);
      data.copy(model, off);
    }
    // one more write, and the sheep dies while it is in flight
    const off = 3 * CHUNK;
    const before = Buffer.from(model.subarray(off, off + CHUNK));
    const data = randomBytes(CHUNK);
    const inflight = write(off, data);
    await new Promise((res) => setTimeout(res, 20 + Math.floor(Math.random() * 150)));
    for (const pid of cluster.pids.values()) process.kill(pid, 'SIGKILL');
    await cluster.kill9(0);
    await cluster.kill9(1);
    const outcome = await inflight;
    if (outcome.code === 0) data.copy(model, off);
    // a killed sheep's threads may still be finishing a synced write: its store lock frees a moment later
    for (const i of [0, 1]) await waitFor(`sheep ${i} restarted`, () => cluster.startSheep(i).then(() => true), 30_000, 300);
    await cluster.waitMembers(2);
    await waitFor('the sheep serves again', async () => /^Cluster status: running/.test((await cluster.dog(['cluster', 'info'])).out), 30_000, 200);
    const back = await readVdi(cluster, 'j');
    const got = back.subarray(off, off + CHUNK);
    assert.ok(got.equals(data) || got.equals(before), 'the write in flight is wholly there or wholly absent');
    if (got.equals(data)) data.copy(model, off);
    assert.is(sha(back), sha(model), 'every acknowledged write reads back');
    for (const i of [0, 1]) {
      assert.match(readFileSync(join(cluster.dir(i), 'sheep.log'), 'utf8'), /journal .*journal_ring/);
    }
  } finally {
    await cluster.cleanup();
  }
});

test.run();
