/**
 * The power-cut file system itself (test/lib/powercut-fs.ts): what was not
 * made durable is forgotten at a cut (all, or torn at a sector), what was is
 * kept, a rename over a durable file is undone, and the fault switch answers EIO.
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, constants, writeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PowerCutFs } from '../lib/powercut.js';

const root = mkdtempSync(join(tmpdir(), 'powercut-test-'));
const mnt = join(root, 'mnt');
let pc: PowerCutFs;

test.before(async () => { pc = await PowerCutFs.mount(join(root, 'backing'), mnt); });
test.after(async () => {
  await pc?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function writeAt(path: string, data: string | Buffer, pos: number, flags = constants.O_RDWR | constants.O_CREAT, sync?: 'fsync' | 'fdatasync'): void {
  const fd = openSync(path, flags, 0o644);
  writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data, 0, undefined, pos);
  if (sync === 'fsync') fsyncSync(fd);
  if (sync === 'fdatasync') fdatasyncSync(fd);
  closeSync(fd);
}

test('unsynced writes and creations are forgotten; synced ones stay', async () => {
  writeAt(join(mnt, 'a'), 'durable', 0, undefined, 'fsync');
  writeAt(join(mnt, 'a'), 'LOST', 0);
  writeAt(join(mnt, 'b'), 'never synced', 0);
  writeAt(join(mnt, 'c'), 'dsync', 0, constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC);
  writeAt(join(mnt, 'c'), 'data', 0, constants.O_RDWR, 'fdatasync');
  assert.is(readFileSync(join(mnt, 'a'), 'utf8'), 'LOSTble');
  const undone = await pc.cut('all', 1);
  assert.ok(undone >= 2, `undid ${undone}`);
  assert.is(readFileSync(join(mnt, 'a'), 'utf8'), 'durable');
  assert.not.ok(existsSync(join(mnt, 'b')), 'a file never synced is gone');
  assert.is(readFileSync(join(mnt, 'c'), 'utf8'), 'datac');
});

test('a torn cut keeps a prefix of whole sectors of the last write', async () => {
  const p = join(mnt, 't');
  writeAt(p, Buffer.alloc(8192, 0x61), 0, undefined, 'fsync');
  writeAt(p, Buffer.alloc(8192, 0x62), 0);
  await pc.cut('torn', 7);
  const b = readFileSync(p);
  assert.is(b.length, 8192);
  const firstOld = b.indexOf(0x61);
  assert.ok(firstOld >= 0 && firstOld % 512 === 0, `torn at ${firstOld}`);
  assert.ok(b.subarray(firstOld).every((x) => x === 0x61), 'old bytes after the tear');
});

test('a rename of an unsynced file over a durable one is undone; of a synced one, kept', async () => {
  writeAt(join(mnt, 'cur'), 'old', 0, undefined, 'fsync');
  writeAt(join(mnt, 'cur.tmp'), 'new', 0);
  renameSync(join(mnt, 'cur.tmp'), join(mnt, 'cur'));
  writeAt(join(mnt, 'kept.tmp'), 'synced', 0, undefined, 'fsync');
  renameSync(join(mnt, 'kept.tmp'), join(mnt, 'kept'));
  await pc.cut('all', 3);
  assert.is(readFileSync(join(mnt, 'cur'), 'utf8'), 'old');
  assert.is(readFileSync(join(mnt, 'kept'), 'utf8'), 'synced');
});

test('the fault switch answers EIO under a path', async () => {
  writeFileSync(join(mnt, 'f'), 'x');
  await pc.fault('/f', true);
  assert.throws(() => readFileSync(join(mnt, 'f')), /EIO/);
  await pc.fault('/f', false);
  assert.is(readFileSync(join(mnt, 'f'), 'utf8'), 'x');
});

test.run();
