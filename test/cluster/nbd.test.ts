/**
 * The sheep's NBD export, driven by real clients from Debian's packages
 * (qemu-img, qemu-io, nbdinfo, nbdcopy) over TCP and the Unix socket, plus a
 * bare client for what they hide: refused writes on a snapshot, the VDI lock
 * held while a connection is open.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SD_RES } from '../../shared/proto/results.js';
import { NBD_CMD, NBD_E, NBD_FLAG, NBD_REP_ERR } from '../../sheep/nbd/proto.js';
import { freePorts, TestCluster, waitFor } from '../lib/cluster.js';
import { lockVdi } from '../lib/locks.js';
import { TestNbdClient } from '../lib/nbd-client.js';
import { have, sh } from '../lib/shell.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'sheep-nbd-'));
const sock = join(dir, 'nbd.sock');
let c: TestCluster;
let nbdPort: number;

const unixUri = (name: string): string => `nbd+unix:///${name}?socket=${sock}`;
const tcpUri = (name: string): string => `nbd://127.0.0.1:${nbdPort}/${name}`;
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

async function dog(args: string[], input?: Buffer): Promise<Buffer> {
  const r = await c.dog(args, { input });
  assert.is(r.code, 0, `dog ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test.before(async () => {
  for (const cmd of ['qemu-img', 'qemu-io', 'nbdinfo', 'nbdcopy']) {
    if (!(await have(cmd))) assert.unreachable(`${cmd} is missing (.ci/system-deps test installs it)`);
  }
  [nbdPort] = await freePorts(1) as [number];
  c = await TestCluster.start({
    nodes: 3, sheepArgs: (i) => (i === 0 ? ['--nbd', String(nbdPort), '--nbd-unix', sock] : []),
  });
  const f = await c.dog(['cluster', 'format', '-c', '2', '-l']);
  assert.is(f.code, 0, f.stderr);
  await dog(['vdi', 'create', 'one', '64M']);
});

test.after(async () => {
  await c?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('nbdinfo lists the VDIs and describes one; qemu-img info sees its size', async () => {
  await dog(['vdi', 'create', 'two', '12M']);
  let r = await sh(`nbdinfo --json --list 'nbd+unix:///?socket=${sock}'`);
  assert.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.out) as { exports: { 'export-name': string; 'export-size': number; is_read_only: boolean; can_multi_conn: boolean }[] };
  const byName = new Map(list.exports.map((e) => [e['export-name'], e]));
  assert.is(byName.get('one')?.['export-size'], 64 * MiB);
  assert.is(byName.get('two')?.['export-size'], 12 * MiB);
  assert.is(byName.get('one')?.is_read_only, false);
  assert.is(byName.get('one')?.can_multi_conn, true);
  r = await sh(`qemu-img info --output=json '${unixUri('two')}'`);
  assert.is(r.code, 0, r.stderr);
  assert.is((JSON.parse(r.out) as { 'virtual-size': number })['virtual-size'], 12 * MiB);
  r = await sh(`qemu-img info '${tcpUri('nosuch')}'`);
  assert.is.not(r.code, 0);
});

for (const [how, uri] of [['TCP', tcpUri], ['the Unix socket', unixUri]] as const) {
  test(`qemu-io patterns over ${how}: across object boundaries, discard and write-zeroes`, async () => {
    const u = uri('one');
    const cmds = [
      'write -P 0xab 0 1M', 'write -P 0xcd 4194000 1000', 'write -P 0x5a 10M 8M',
      'read -P 0xab 0 1M', 'read -P 0xcd 4194000 1000', 'read -P 0x5a 10M 8M', 'read -P 0 1M 3000000',
      'discard 12M 4M', 'read -P 0 12M 4M', 'read -P 0x5a 10M 2M', 'read -P 0x5a 16M 2M',
      'write -z 17M 2M', 'read -P 0x5a 16M 1M', 'read -P 0 17M 2M',
      'aio_write -P 0x33 32M 64k', 'aio_write -P 0x44 40M 64k', 'aio_flush', 'read -P 0x33 32M 64k', 'read -P 0x44 40M 64k',
      'write -f -P 0x77 48M 4k', 'read -P 0x77 48M 4k',
    ];
    const r = await sh(`qemu-io -f raw ${cmds.map((x) => `-c '${x}'`).join(' ')} '${u}'`);
    assert.is(r.code, 0, r.out + r.stderr);
    assert.not.match(r.out + r.stderr, /Pattern verification failed|error|failed/i, r.out + r.stderr);
    // the data is in the VDI, as dog reads it
    const head = await dog(['vdi', 'read', 'one', '0', String(MiB)]);
    assert.ok(head.equals(Buffer.alloc(MiB, 0xab)));
    const cut = await dog(['vdi', 'read', 'one', '12M', '4M']);
    assert.ok(cut.equals(Buffer.alloc(4 * MiB)));
  });
}

test('qemu-img convert into a VDI and back keeps the sha256; qemu-img compare agrees', async () => {
  await dog(['vdi', 'create', 'img', '48M']);
  const src = join(dir, 'src.raw');
  const img = Buffer.alloc(48 * MiB);
  // data, a hole, data crossing an object boundary
  randomBytes(9 * MiB).copy(img, 0);
  randomBytes(6 * MiB).copy(img, 30 * MiB + 12345);
  writeFileSync(src, img);
  let r = await sh(`qemu-img convert -n -f raw -O raw ${src} '${unixUri('img')}'`);
  assert.is(r.code, 0, r.stderr);
  const back = join(dir, 'back.raw');
  r = await sh(`qemu-img convert -f raw -O raw '${tcpUri('img')}' ${back}`);
  assert.is(r.code, 0, r.stderr);
  assert.is(sha(back), sha(src));
  r = await sh(`qemu-img compare -f raw -F raw ${src} '${unixUri('img')}'`);
  assert.is(r.code, 0, r.out + r.stderr);
});

test('nbdcopy copies a file into a VDI and out again', async () => {
  await dog(['vdi', 'create', 'copy', '20M']);
  const src = join(dir, 'copy.raw');
  writeFileSync(src, randomBytes(20 * MiB));
  let r = await sh(`nbdcopy ${src} '${unixUri('copy')}'`);
  assert.is(r.code, 0, r.stderr);
  const out = join(dir, 'copy.out');
  r = await sh(`nbdcopy --connections=4 '${tcpUri('copy')}' ${out}`);
  assert.is(r.code, 0, r.stderr);
  assert.is(sha(out), sha(src));
});

test('a snapshot exports read-only (name:tag and name@id): writes are refused with EPERM', async () => {
  await dog(['vdi', 'create', 'base', '8M']);
  await dog(['vdi', 'write', 'base', '0', '4096'], Buffer.alloc(4096, 0x61));
  await dog(['vdi', 'snapshot', '-s', 'before', 'base']);
  await dog(['vdi', 'write', 'base', '0', '4096'], Buffer.alloc(4096, 0x62));
  for (const name of ['base:before', 'base@1']) {
    const s = await TestNbdClient.open({ path: sock }, name);
    assert.ok((s.flags & NBD_FLAG.READ_ONLY) !== 0, name);
    const rd = await s.request(NBD_CMD.READ, 0, 4096);
    assert.is(rd.error, 0);
    assert.ok(rd.data.equals(Buffer.alloc(4096, 0x61)), `${name} shows the data as it was`);
    assert.is((await s.request(NBD_CMD.WRITE, 0, 512, Buffer.alloc(512, 1))).error, NBD_E.EPERM);
    assert.is((await s.request(NBD_CMD.TRIM, 0, 4096)).error, NBD_E.EPERM);
    await s.disconnect();
  }
  const r = await sh(`qemu-io -f raw -c 'read -P 0x61 0 4k' -r '${unixUri('base:before')}'`);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.out, /verification failed/);
  // the current VDI kept its own data
  assert.ok((await dog(['vdi', 'read', 'base', '0', '4096'])).equals(Buffer.alloc(4096, 0x62)));
});

test('a snapshot taken while connected: later writes and trims go to the new working VDI, the snapshot keeps its data', async () => {
  await dog(['vdi', 'create', 'live', '12M']);
  const n = await TestNbdClient.open({ path: sock }, 'live');
  assert.is((await n.request(NBD_CMD.WRITE, 0, 8 * MiB, Buffer.alloc(8 * MiB, 0x41))).error, 0);
  await dog(['vdi', 'snapshot', '-s', 'snap', 'live']);
  assert.is((await n.request(NBD_CMD.WRITE, 4096, 4096, Buffer.alloc(4096, 0x42))).error, 0);
  assert.is((await n.request(NBD_CMD.TRIM, 4 * MiB, 4 * MiB)).error, 0);
  const now = await n.request(NBD_CMD.READ, 0, 8 * MiB);
  const want = Buffer.concat([Buffer.alloc(4096, 0x41), Buffer.alloc(4096, 0x42), Buffer.alloc(4 * MiB - 8192, 0x41), Buffer.alloc(4 * MiB)]);
  assert.ok(now.data.equals(want), 'the connection sees its writes and trim');
  await n.disconnect();
  assert.ok((await dog(['vdi', 'read', 'live', '0', '8M'])).equals(want), 'the working VDI has them');
  assert.ok((await dog(['vdi', 'read', '-s', 'snap', 'live', '0', '8M'])).equals(Buffer.alloc(8 * MiB, 0x41)), 'the snapshot kept its data');
  assert.equal(await lockList(), [], 'the lock taken at attach is released');
});

async function lockList(): Promise<string[]> {
  return (await dog(['vdi', 'lock', 'list'])).toString().split('\n').slice(1).filter(Boolean);
}

test('a connection holds the VDI lock until it leaves; a VDI locked elsewhere is refused', async () => {
  assert.equal(await lockList(), []);
  const a = await TestNbdClient.open({ port: nbdPort, host: '127.0.0.1' }, 'one');
  const b = await TestNbdClient.open({ path: sock }, 'one', 'export-name'); // a second connection (multi-conn)
  let rows = await lockList();
  assert.is(rows.length, 1);
  assert.match(rows[0]!, new RegExp(`^\\s+one\\s.*port:${c.port(0)}$`));
  assert.is(await lockVdi(c.port(1), 'one'), SD_RES.VDI_LOCKED);
  await a.disconnect();
  assert.is((await lockList()).length, 1, 'the other connection still holds it');
  assert.is((await b.request(NBD_CMD.WRITE, 0, 512, Buffer.alloc(512, 7))).error, 0);
  b.destroy(); // a client that just drops the connection releases it too
  await waitFor('the lock released', async () => (await lockList()).length === 0);
  // locked by another sheep (a QEMU there): GO is refused by policy
  assert.is(await lockVdi(c.port(1), 'one'), SD_RES.SUCCESS);
  const refused = await TestNbdClient.open({ path: sock }, 'one').then(() => 0, (e: { replyType?: number }) => e.replyType);
  assert.is(refused, NBD_REP_ERR.POLICY);
  await dog(['vdi', 'lock', 'unlock', 'one']);
  rows = await lockList();
  assert.equal(rows, []);
});

test.run();
