/**
 * The ObjectStore contract (sheep/store/store.ts), run against every driver:
 * plain, md over three disks, and the journal in front of each.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { resultOf } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Logger } from '../../sheep/log.js';
import { MetaStore } from '../../sheep/meta.js';
import { JournalStore } from '../../sheep/store/journal.js';
import { MdStore } from '../../sheep/store/md.js';
import { PlainStore } from '../../sheep/store/plain.js';
import type { ObjectStore } from '../../sheep/store/store.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const SIZE = 64 * 1024;

type Make = (dir: string, meta: MetaStore) => ObjectStore;
const plain: Make = (dir, meta) => new PlainStore({ dir: join(dir, 'obj'), nosync: true, meta, log });
const md: Make = (dir, meta) => new MdStore({
  paths: [0, 1, 2].map((d) => join(dir, `d${d}`)), nosync: true, directIo: false, meta, log, onChange: () => {},
});
const journaled = (inner: Make): Make => (dir, meta) =>
  new JournalStore(inner(dir, meta), { dir, size: 1024 * 1024, skip: false, nosync: true, log });

const tree: Make = (dir, meta) => new PlainStore({ dir: join(dir, 'obj'), nosync: true, meta, log, tree: true });
const mdTree: Make = (dir, meta) => new MdStore({
  paths: [0, 1].map((d) => join(dir, `d${d}`)), nosync: true, directIo: false, tree: true, meta, log, onChange: () => {},
});

const DRIVERS: [string, Make][] = [
  ['plain', plain], ['md', md], ['journal+plain', journaled(plain)], ['journal+md', journaled(md)],
  ['tree', tree], ['md+tree', mdTree],
];

async function rejects(p: Promise<unknown>, code: number): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.is(resultOf(e), code);
    return;
  }
  assert.unreachable('should have failed');
}

for (const [name, make] of DRIVERS) {
  const t = suite<{ dir: string; meta: MetaStore; st: ObjectStore }>(name);
  t.before.each(async (ctx) => {
    ctx.dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
    ctx.meta = await MetaStore.open(join(ctx.dir, 'meta'), ctx.dir);
    ctx.st = make(ctx.dir, ctx.meta);
    await ctx.st.init(1);
  });
  t.after.each(async (ctx) => {
    await ctx.st.close();
    await ctx.meta.close();
    rmSync(ctx.dir, { recursive: true, force: true });
  });

  t('create, partial write, read past the written bytes reads zeros', async ({ st }) => {
    const ref = { oid: 0x1234n, ec: undefined };
    assert.not.ok(st.exists(ref));
    await rejects(st.write(ref, 0, Buffer.from('x')), SD_RES.NO_OBJ);
    await st.create(ref, 100, Buffer.from('hello'), SIZE, 1);
    assert.ok(st.exists(ref));
    await st.write(ref, 102, Buffer.from('LLO!'));
    assert.is((await st.read(ref, 98, 10)).toString('latin1'), '\0\0heLLO!\0\0');
    assert.equal(st.oids(), [0x1234n]);
    assert.equal([...st.names()], ['0000000000001234']);
  });

  t('create replaces; remove; EC strips are separate objects', async ({ st }) => {
    const ref = { oid: 0x55n, ec: undefined };
    await st.create(ref, 0, Buffer.alloc(SIZE, 7), SIZE, 1);
    await st.create(ref, 0, Buffer.from('new'), SIZE, 1);
    assert.is((await st.read(ref, 0, 4)).toString('latin1'), 'new\0');
    await st.create({ oid: 0x55n, ec: 2 }, 0, Buffer.from('strip'), SIZE, 1);
    assert.equal([...st.names()].sort(), ['0000000000000055', '0000000000000055_2']);
    assert.equal(st.oids(), [0x55n]);
    await st.remove(ref);
    assert.not.ok(st.exists(ref));
    assert.ok(st.exists({ oid: 0x55n, ec: 2 }));
    await rejects(st.remove(ref), SD_RES.NO_OBJ);
  });

  t('a read racing a remove or a replace of its object: no such object, or one of the two versions', async ({ st }) => {
    const ref = { oid: 0x99n, ec: undefined };
    await st.create(ref, 0, Buffer.alloc(4096, 1), SIZE, 1);
    await st.read(ref, 0, 4096); // its descriptor is open now
    // the read waits a turn for the descriptor while the remove closes it
    const read = st.read(ref, 0, 4096).then((b) => b.equals(Buffer.alloc(4096, 1)) ? 'old' : 'wrong', (e) => resultOf(e));
    await st.remove(ref);
    const outcome = await read;
    assert.ok(outcome === SD_RES.NO_OBJ || outcome === 'old', `read: ${outcome}`);
    await st.create(ref, 0, Buffer.alloc(4096, 2), SIZE, 1);
    await st.read(ref, 0, 4096);
    const during = st.read(ref, 0, 4096);
    await st.create(ref, 0, Buffer.alloc(4096, 3), SIZE, 1);
    const got = await during;
    assert.ok(got.equals(Buffer.alloc(4096, 2)) || got.equals(Buffer.alloc(4096, 3)), `read ${got[0]}`);
  });

  t('stale copies: move aside, read by epoch, list, purge', async ({ st }) => {
    const ref = { oid: 0x77n, ec: undefined };
    await st.create(ref, 0, Buffer.from('old'), SIZE, 1);
    await st.moveToStale(ref, 3);
    assert.not.ok(st.exists(ref));
    assert.is(st.staleEpoch(ref), 3);
    assert.equal(st.staleOids(), [0x77n]);
    assert.is((await st.readStale(ref, 3, 0, 3)).toString('latin1'), 'old');
    await rejects(st.readStale(ref, 2, 0, 3), SD_RES.NO_OBJ);
    await st.create(ref, 0, Buffer.from('new'), SIZE, 4);
    await st.moveToStale(ref, 5);
    assert.is(st.staleEpoch(ref), 5);
    await st.purgeStale();
    assert.is(st.staleEpoch(ref), undefined);
    assert.equal(st.staleOids(), []);
  });

  t('many objects; purge empties; a reopened store finds what was there', async (ctx) => {
    for (let i = 1; i <= 40; i++) await ctx.st.create({ oid: BigInt(i) << 20n, ec: undefined }, 0, Buffer.from([i]), SIZE, 1);
    assert.is(ctx.st.oids().length, 40);
    await ctx.st.sync();
    await ctx.st.close();
    ctx.st = make(ctx.dir, ctx.meta);
    await ctx.st.init(1);
    assert.is(ctx.st.oids().length, 40);
    assert.is((await ctx.st.read({ oid: 7n << 20n, ec: undefined }, 0, 1))[0], 7);
    const sp = await ctx.st.space();
    assert.ok(sp.used > 0n && sp.size >= sp.used);
    await ctx.st.purge();
    assert.is(ctx.st.oids().length, 0);
  });

  t.run();
}

test('the tree layout puts objects where the original tree store does, and finds them again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-tree-'));
  const meta = await MetaStore.open(join(dir, 'meta'), dir);
  try {
    const st = new PlainStore({ dir: join(dir, 'obj'), nosync: true, meta, log, tree: true });
    await st.init(1);
    const data = { oid: 0x007c2b2500000003n, ec: undefined };
    const inode = { oid: 0x807c2b2500000000n, ec: undefined };
    const strip = { oid: 0x00ab00cd00000001n, ec: 1 };
    for (const ref of [data, inode, strip]) await st.create(ref, 0, Buffer.from('x'), SIZE, 1);
    assert.ok(existsSync(join(dir, 'obj', '25', '007c2b2500000003')));
    assert.ok(existsSync(join(dir, 'obj', 'meta', '807c2b2500000000')));
    assert.ok(existsSync(join(dir, 'obj', 'cd', '00ab00cd00000001_1')));
    await st.close();
    const again = new PlainStore({ dir: join(dir, 'obj'), nosync: true, meta, log, tree: true });
    await again.init(1);
    assert.equal(again.oids(), [data.oid, strip.oid, inode.oid]);
    await again.setLayout(false);
    assert.ok(existsSync(join(dir, 'obj', '807c2b2500000000')));
    assert.is((await again.read(inode, 0, 1)).toString(), 'x');
    await again.close();
  } finally {
    await meta.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
