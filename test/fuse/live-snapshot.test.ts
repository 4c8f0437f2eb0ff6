/**
 * A live snapshot under a running writer: a process that keeps a sheepfs
 * volume open for writing (as a VM keeps its disk) goes on writing while
 * `dog vdi snapshot` is taken, twice. Every write succeeds; each snapshot
 * holds what was acknowledged before it was taken; the VDI holds everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { forgetPid, recordPid, TestCluster, waitFor } from '../lib/cluster.js';
import { mountSheepfs, type Mount } from './lib.js';

const MiB = 1 << 20;
const VDI_BYTES = 32 * MiB;

/**
 * The writer, in its own process (never the one holding the mount): one
 * open of the volume for the whole run; each stdin line `FILE OFFSET` writes
 * FILE there 1 MiB at a time, printing `acked N` after each piece and `done`
 * at the end, or `error CODE` and exiting 1 on the first failure.
 */
const WRITER = `
const fs = require('node:fs');
const fd = fs.openSync(process.argv[1], fs.constants.O_RDWR);
let queue = Promise.resolve();
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(() => {
    const [file, off] = line.split(' ');
    const data = fs.readFileSync(file);
    try {
      for (let at = 0; at < data.length; at += ${MiB}) {
        fs.writeSync(fd, data, at, Math.min(${MiB}, data.length - at), Number(off) + at);
        process.stdout.write('acked ' + (at / ${MiB} + 1) + '\\n');
      }
    } catch (e) {
      process.stdout.write('error ' + e.code + '\\n');
      process.exit(1);
    }
    process.stdout.write('done\\n');
  });
}).on('close', () => { fs.closeSync(fd); });
`;

class Writer {
  private out = '';
  private readonly child: ChildProcess;
  private n = 0;

  constructor(volume: string) {
    this.child = spawn(process.execPath, ['-e', WRITER, volume], { stdio: ['pipe', 'pipe', 'inherit'] });
    recordPid('writer', this.child.pid!);
    this.child.stdout!.on('data', (d: Buffer) => { this.out += d; });
  }

  /** Lines printed so far. */
  lines(): string[] {
    return this.out.split('\n').filter(Boolean);
  }

  /** Start writing `data` at `pos`; resolves when the command was sent. */
  start(data: Buffer, pos: number, dir: string): void {
    const file = join(dir, `w${this.n++}.bin`);
    writeFileSync(file, data);
    this.child.stdin!.write(`${file} ${pos}\n`);
  }

  /** Wait for the `done` of command number n (0-based); fail on an error line. */
  async done(n: number): Promise<void> {
    await this.until(`the writer's command ${n}`, () => this.lines().filter((l) => l === 'done').length > n);
  }

  /** Wait for cond, failing at once when the writer failed. */
  async until(what: string, cond: () => boolean): Promise<void> {
    await waitFor(what, () => this.failure() ?? cond(), 60_000);
    const f = this.failure();
    if (f) throw new Error(f);
  }

  private failure(): string | undefined {
    const err = this.lines().find((l) => l.startsWith('error'));
    if (err) return `the writer failed: ${err}`;
    if (this.child.exitCode !== null) return `the writer exited ${this.child.exitCode}`;
    return undefined;
  }

  /** Pieces acknowledged so far. */
  acked(): number {
    return this.lines().filter((l) => l.startsWith('acked')).length;
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    await waitFor('the writer to exit', () => this.child.exitCode !== null, 20_000);
    forgetPid('writer', this.child.pid!);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function liveSnapshotTest(name: string, sheepfsArgs: string[], sheepArgs: (dir: string) => string[]): void {
  test(`a writer keeps writing through two live snapshots (${name})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sheepfs-snap-'));
    const mnt = join(dir, 'mnt');
    let cluster: TestCluster | undefined;
    let m: Mount | undefined;
    let w: Writer | undefined;
    try {
      cluster = await TestCluster.start({ nodes: 3, copies: 2, sheepArgs: (i) => (i === 0 ? sheepArgs(dir) : []) });
      await cluster.dogOk(['vdi', 'create', 'live.img', String(VDI_BYTES)]);
      m = await mountSheepfs(mnt, cluster.port(0), sheepfsArgs);
      const vdiRead = async (args: string[]): Promise<Buffer> => (await cluster!.dogOk(['vdi', 'read', ...args], { timeoutMs: 60_000 })).stdout;
      const image = Buffer.alloc(VDI_BYTES);
      const put = (data: Buffer, pos: number): void => { data.copy(image, pos); };
      w = new Writer(join(mnt, 'vdi', 'live.img', 'volume'));

      // 1: 6 MiB from 1 MiB (across the 4 MiB object boundary), all acknowledged, then snapshot 1
      const a = randomBytes(6 * MiB);
      w.start(a, MiB, dir);
      await w.done(0);
      put(a, MiB);
      const atSnap1 = Buffer.from(image);
      await cluster.dogOk(['vdi', 'snapshot', '-s', 'one', 'live.img']);

      // 2: overwrite objects the snapshot shares (copy-on-write) and write new
      // ones, with snapshot 2 taken while these writes are going on
      const b = randomBytes(12 * MiB);
      w.start(b, 3 * MiB, dir);
      await w.until('the first writes after snapshot 1', () => w!.acked() > 6);
      const ackedBefore2 = w.acked() - 6;
      await cluster.dogOk(['vdi', 'snapshot', '-s', 'two', 'live.img']);
      await w.done(1);
      put(b, 3 * MiB);

      // 3: after both, the same object again and the end of the VDI
      const c = randomBytes(2 * MiB);
      w.start(c, 4 * MiB, dir);
      const d = randomBytes(3 * MiB);
      w.start(d, VDI_BYTES - 3 * MiB, dir);
      await w.done(3);
      put(c, 4 * MiB);
      put(d, VDI_BYTES - 3 * MiB);
      await w.stop();

      assert.is(sha(await vdiRead(['-s', '1', 'live.img'])), sha(atSnap1), 'snapshot 1 holds exactly what was acknowledged before it');
      const snap2 = await vdiRead(['-s', 'two', 'live.img']);
      assert.is(sha(snap2.subarray(MiB, 3 * MiB)), sha(a.subarray(0, 2 * MiB)), 'snapshot 2 keeps what came before it');
      assert.is(sha(snap2.subarray(3 * MiB, (3 + ackedBefore2) * MiB)), sha(b.subarray(0, ackedBefore2 * MiB)),
        `snapshot 2 holds the ${ackedBefore2} MiB acknowledged before it was taken`);
      assert.is(sha(await vdiRead(['live.img'])), sha(image), 'the VDI holds every write');
      // reads through the volume keep working and see the same
      const { readFileSync } = await import('node:fs');
      assert.is(sha(readFileSync(join(mnt, 'vdi', 'live.img', 'volume'))), sha(image), 'the volume reads what the VDI holds');
      assert.is(sha(readFileSync(join(mnt, 'vdi', 'live.img', 'snapshots', 'one'))), sha(atSnap1), 'the snapshot file reads snapshot 1');
      if (sheepArgs(dir).length > 0) {
        // with the object cache: after a flush of the VDI, a sheep without the cache reads the same
        await cluster.dogOk(['vdi', 'cache', 'flush', 'live.img']);
        const elsewhere = cluster.port(1);
        const read1 = async (args: string[]): Promise<Buffer> => (await cluster!.dogOk(['vdi', 'read', ...args], { port: elsewhere, timeoutMs: 60_000 })).stdout;
        assert.is(sha(await read1(['live.img'])), sha(image), 'the flushed VDI, read elsewhere');
        assert.is(sha(await read1(['-s', '1', 'live.img'])), sha(atSnap1), 'snapshot 1, read elsewhere');
      }
    } finally {
      w?.kill();
      await m?.cleanup();
      await cluster?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

liveSnapshotTest('plain', [], () => []);
// the sheep's object cache takes sheepfs's writes: none may land in the snapshot's objects
liveSnapshotTest('object cache', ['--objectcache'], (dir) => ['-w', `size=64M,dir=${join(dir, 'cache')}`]);

test.run();
