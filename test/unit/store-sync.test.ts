/**
 * Durability of the journal's inner store (issue 13, defect 1): PlainStore.sync()
 * keeps an object dirty until its datasync succeeded and fails when it cannot
 * make it durable; the journal then starts no new lap (its records stay the only
 * copy) and fails the writes that needed the wrap instead of acknowledging them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resultOf } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Logger } from '../../sheep/log.js';
import { JournalStore } from '../../sheep/store/journal.js';
import { PlainStore } from '../../sheep/store/plain.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const SIZE = 64 * 1024;
const ref = { oid: 0x77n, ec: undefined };

function eio(): Error {
  return Object.assign(new Error('EIO: i/o error, open'), { code: 'EIO', errno: -5, syscall: 'open' });
}

/** Reach the private descriptor cache of a PlainStore (test only). */
type FdHook = { fd: (name: string) => Promise<FileHandle> };

const t = suite<{ dir: string }>('plain sync');
t.before.each((ctx) => { ctx.dir = mkdtempSync(join(tmpdir(), 'store-sync-')); });
t.after.each((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

t('a failed open fails the sync and the object stays dirty', async ({ dir }) => {
  const st = new PlainStore({ dir, nosync: true, trackDirty: true, log });
  await st.init(1);
  await st.create(ref, 0, Buffer.from('one'), SIZE, 1);
  await st.sync();
  await st.write(ref, 0, Buffer.from('two'));
  const hook = st as unknown as FdHook;
  const realFd = hook.fd.bind(st);
  hook.fd = async () => { throw eio(); };
  let failed = false;
  try {
    await st.sync();
  } catch (e) {
    failed = true;
    assert.is(resultOf(e), SD_RES.EIO);
  }
  assert.ok(failed, 'sync() must fail when an object cannot be made durable');
  // the disk is back: the next sync must still datasync the object
  const synced: string[] = [];
  hook.fd = async (name) => {
    const fh = await realFd(name);
    const realSync = fh.datasync.bind(fh);
    fh.datasync = async () => { synced.push(name); await realSync(); };
    return fh;
  };
  await st.sync();
  assert.equal(synced, ['0000000000000077']);
  synced.length = 0;
  await st.sync();
  assert.equal(synced, [], 'clean after a successful sync');
  await st.close();
});

t('a failed datasync fails the sync', async ({ dir }) => {
  const st = new PlainStore({ dir, nosync: true, trackDirty: true, log });
  await st.init(1);
  await st.create(ref, 0, Buffer.from('one'), SIZE, 1);
  const hook = st as unknown as FdHook;
  const realFd = hook.fd.bind(st);
  hook.fd = async (name) => {
    const fh = await realFd(name);
    fh.datasync = async () => { throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }); };
    return fh;
  };
  let failed = false;
  await st.sync().catch(() => { failed = true; });
  assert.ok(failed);
  await st.close().catch(() => {});
});

t('the journal starts no new lap while its inner store cannot sync', async ({ dir }) => {
  const inner = new PlainStore({ dir: join(dir, 'obj'), nosync: true, trackDirty: true, log });
  let broken = false;
  const realSync = inner.sync.bind(inner);
  inner.sync = async () => {
    if (broken) throw eio();
    await realSync();
  };
  const ringBytes = 64 * 1024;
  const j = new JournalStore(inner, { dir, size: ringBytes, skip: false, nosync: true, log });
  await j.init(1);
  await j.create(ref, 0, Buffer.alloc(0), SIZE, 1);
  broken = true;
  // fill the ring: the write that needs a wrap must fail, not resolve and not hang
  const outcomes: number[] = [];
  for (let i = 0; i < 2 * (ringBytes / 4096); i++) {
    const r = await Promise.race([
      j.write(ref, 0, Buffer.alloc(4096 - 512, i)).then(() => SD_RES.SUCCESS, (e) => resultOf(e)),
      new Promise<number>((res) => setTimeout(() => res(-1), 5000).unref()),
    ]);
    outcomes.push(r);
    if (r !== SD_RES.SUCCESS) break;
  }
  assert.is(outcomes.at(-1), SD_RES.EIO, `writes: ${outcomes.join(',')}`);
  broken = false;
  await j.write(ref, 0, Buffer.from('after'));
  assert.is((await j.read(ref, 0, 5)).toString(), 'after');
  await j.close();
});

t.run();
