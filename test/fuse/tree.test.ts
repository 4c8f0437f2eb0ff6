/**
 * The tree a user sees: the report files say what dog says, every file's
 * stat size is what cat returns, VDIs appear and disappear as dog creates and
 * deletes them, the attach interface and config files behave as the
 * original's, truncate resizes, snapshots are read-only volumes, and the
 * daemon goes away cleanly on SIGTERM, `fusermount -u` and kill -9.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pidAlive, run, TestCluster, waitFor } from '../lib/cluster.js';
import { isMounted, mountSheepfs, sh, type Mount } from './lib.js';

let cluster: TestCluster;
let m: Mount;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-tree-'));
const mnt = join(dir, 'mnt');
const p = (rel: string): string => join(mnt, rel);

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 3, copies: 3 });
  assert.is((await cluster.dog(['vdi', 'create', 'one.img', '64M'])).code, 0);
  assert.is((await cluster.dog(['vdi', 'create', '-c', '2', 'two.img', '32M'])).code, 0);
  m = await mountSheepfs(mnt, cluster.port(0));
});

test.after(async () => {
  await m?.cleanup();
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('the mount is named sheepfs and the top level is the original tree', async () => {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt);
  assert.ok(line?.includes(' - fuse sheepfs '), line);
  assert.equal(readdirSync(mnt).sort(), ['cluster', 'config', 'node', 'vdi', 'volume']);
  assert.equal(readdirSync(p('cluster')), ['info']);
  assert.equal(readdirSync(p('node')).sort(), ['info', 'list', 'stat']);
  assert.equal(readdirSync(p('config')).sort(), ['object_cache', 'page_cache', 'sheep_info']);
  assert.equal(readdirSync(p('vdi')).sort(), ['list', 'mount', 'one.img', 'two.img', 'unmount']);
  assert.equal(readdirSync(p('vdi/one.img')).sort(), ['info', 'objects', 'snapshots', 'volume']);
});

test('cluster/info, node/list, node/info and vdi/list are what dog prints', async () => {
  for (const [file, args] of [
    ['cluster/info', ['cluster', 'info']], ['node/list', ['node', 'list']],
    ['node/info', ['node', 'info']], ['vdi/list', ['vdi', 'list']],
  ] as const) {
    const dog = await cluster.dog(args);
    assert.is(dog.code, 0);
    assert.fixture(readFileSync(p(file), 'utf8'), dog.out);
  }
});

test('every file: the size stat gives is the length cat reads', async () => {
  const files = ['cluster/info', 'node/list', 'node/info', 'node/stat', 'vdi/list', 'vdi/mount', 'vdi/unmount',
    'config/page_cache', 'config/object_cache', 'config/sheep_info', 'vdi/one.img/info', 'vdi/one.img/objects'];
  for (const f of files) {
    const size = statSync(p(f)).size;
    assert.is(readFileSync(p(f)).length, size, f);
  }
  assert.is(statSync(p('vdi/one.img/volume')).size, 64 * 1024 * 1024);
  assert.is(statSync(p('vdi/two.img/volume')).size, 32 * 1024 * 1024);
  assert.is(readFileSync(p('config/sheep_info'), 'utf8'), `127.0.0.1:${cluster.port(0)}\n`);
  assert.is(readFileSync(p('config/page_cache'), 'utf8'), '0\n');
});

test('vdi/<name>/info, objects and node/stat describe the VDI and the nodes', async () => {
  const data = randomBytes(4 << 20);
  writeFileSync(p('vdi/one.img/volume'), data, { flag: 'r+' });
  const info = readFileSync(p('vdi/one.img/info'), 'utf8');
  assert.match(info, /^Name: one\.img\nVDI id: [0-9a-f]+\nSize: 67108864 \(64 MB\)\nRedundancy: 3 copies\n/);
  assert.match(info, /\nParent: none\n/);
  assert.match(info, /\nUsed: 1 objects \(4\.0 MB\)\n/);
  assert.match(readFileSync(p('vdi/two.img/info'), 'utf8'), /\nRedundancy: 2 copies\n/);
  const objects = readFileSync(p('vdi/one.img/objects'), 'utf8');
  const row = objects.split('\n')[1]!.split('\t');
  assert.is(row[0], '0');
  assert.is(row[2], 'self');
  assert.is(row[3]!.split(' ').length, 3, 'three nodes hold the object');
  assert.match(objects, /Allocated: 1 of 16 objects, 1 own, 0 shared with the parent\n$/);
  const stat = readFileSync(p('node/stat'), 'utf8').split('\n');
  assert.match(stat[0]!, /^Id\tHost:Port\tObjects\tData\tRequest/);
  assert.ok(stat.filter((l) => /^ \d\t127\.0\.0\.1:\d+\t\d+\t1\tClient/.test(l)).length === 3, stat.join('\n'));
});

test('VDIs created and deleted with dog appear and disappear', async () => {
  assert.is((await cluster.dog(['vdi', 'create', 'new.img', '16M'])).code, 0);
  await waitFor('new.img to appear', () => readdirSync(p('vdi')).includes('new.img'), 5_000);
  assert.is(statSync(p('vdi/new.img/volume')).size, 16 << 20);
  assert.is((await cluster.dog(['vdi', 'delete', 'new.img'])).code, 0);
  await waitFor('new.img to go', () => !readdirSync(p('vdi')).includes('new.img'), 5_000);
  const r = await sh(`cat ${p('vdi/new.img/volume')}`);
  assert.match(r.stderr, /No such file or directory/);
});

test('vdi/mount and vdi/unmount attach and detach volume/<name>, EINVAL for unknown names', async () => {
  let r = await sh(`echo one.img > ${p('vdi/mount')} && echo two.img > ${p('vdi/mount')} && echo one.img > ${p('vdi/mount')}`);
  assert.is(r.code, 0, r.stderr);
  assert.equal(readdirSync(p('volume')).sort(), ['one.img', 'two.img']);
  assert.is(statSync(p('volume/two.img')).size, 32 << 20);
  const a = readFileSync(p('volume/one.img')).subarray(0, 4096);
  const b = readFileSync(p('vdi/one.img/volume')).subarray(0, 4096);
  assert.ok(a.equals(b));
  r = await sh(`echo nonexistent.img > ${p('vdi/mount')}`);
  assert.is(r.code, 1);
  assert.match(r.stderr, /write error: Invalid argument/);
  r = await sh(`echo two.img > ${p('vdi/unmount')}`);
  assert.is(r.code, 0);
  assert.equal(readdirSync(p('volume')), ['one.img']);
  r = await sh(`echo two.img > ${p('vdi/unmount')}`);
  assert.match(r.stderr, /write error: Invalid argument/);
  r = await sh(`echo one.img > ${p('vdi/unmount')}`);
  assert.equal(readdirSync(p('volume')), []);
});

test('config files take values as the original: bad ones are EINVAL and change nothing', async () => {
  let r = await sh(`echo 1 > ${p('config/page_cache')} && cat ${p('config/page_cache')} && echo 0 > ${p('config/object_cache')}`);
  assert.is(r.out, '1\n');
  r = await sh(`echo garbage > ${p('config/page_cache')}`);
  assert.match(r.stderr, /Invalid argument/);
  await sh(`echo 0 > ${p('config/page_cache')}`);
  r = await sh(`echo 127.0.0.1:${cluster.port(1)} > ${p('config/sheep_info')} && cat ${p('config/sheep_info')}`);
  assert.is(r.out, `127.0.0.1:${cluster.port(1)}\n`);
  assert.ok(readFileSync(p('vdi/list'), 'utf8').includes('one.img'));
  for (const bad of ['garbage', `127.0.0.1:${cluster.ports[6]}`]) {
    r = await sh(`echo ${bad} > ${p('config/sheep_info')}`);
    assert.match(r.stderr, /Invalid argument/, bad);
  }
  r = await sh(`echo 127.0.0.1:${cluster.port(0)} > ${p('config/sheep_info')} && cat ${p('config/sheep_info')}`);
  assert.is(r.out, `127.0.0.1:${cluster.port(0)}\n`);
});

test('what cannot be done says so: ENOSYS to create, EACCES to write a report', async () => {
  let r = await sh(`touch ${p('newfile')}`);
  assert.match(r.stderr, /Function not implemented/);
  r = await sh(`mkdir ${p('vdi/newdir')}`);
  assert.match(r.stderr, /Function not implemented/);
  r = await sh(`echo x > ${p('cluster/info')}`);
  assert.match(r.stderr, /Permission denied/);
});

test('truncate grows the VDI; shrinking and beyond the maximum get a clear errno', async () => {
  let r = await sh(`truncate -s 96M ${p('vdi/two.img/volume')}`);
  assert.is(r.code, 0, r.stderr);
  assert.is(statSync(p('vdi/two.img/volume')).size, 96 << 20);
  const list = await cluster.dog(['vdi', 'list', '-r', 'two.img']);
  assert.is(list.out.split(' ')[3], String(96 << 20));
  r = await sh(`truncate -s 8M ${p('vdi/two.img/volume')}`);
  assert.is(r.code, 1);
  assert.match(r.stderr, /Operation not supported/);
  r = await sh(`truncate -s 17T ${p('vdi/two.img/volume')}`);
  assert.match(r.stderr, /File too large/);
  assert.is(statSync(p('vdi/two.img/volume')).size, 96 << 20);
});

test('snapshots are read-only volumes with the content they had', async () => {
  const before = createHash('sha256').update(readFileSync(p('vdi/one.img/volume'))).digest('hex');
  assert.is((await cluster.dog(['vdi', 'snapshot', '-s', 'before', 'one.img'])).code, 0);
  await waitFor('the snapshot to appear', () => readdirSync(p('vdi/one.img/snapshots')).length === 2, 5_000);
  assert.equal(readdirSync(p('vdi/one.img/snapshots')).sort(), ['1', 'before']);
  writeFileSync(p('vdi/one.img/volume'), randomBytes(1 << 20), { flag: 'r+' });
  const snap = createHash('sha256').update(readFileSync(p('vdi/one.img/snapshots/before'))).digest('hex');
  assert.is(snap, before);
  assert.ok(readFileSync(p('vdi/one.img/snapshots/1')).equals(readFileSync(p('vdi/one.img/snapshots/before'))));
  const r = await sh(`dd if=/dev/zero of=${p('vdi/one.img/snapshots/1')} bs=4k count=1 conv=notrunc`);
  assert.match(r.stderr, /Read-only file system/);
  assert.match(readFileSync(p('vdi/one.img/info'), 'utf8'), /\nUsed: 1 objects \(4\.0 MB\)\nShared: 0 objects/);
});

test('fusermount -u ends the daemon; SIGTERM unmounts; kill -9 leaves no stale mount', async () => {
  let r = await run('fusermount', ['-u', mnt]);
  assert.is(r.code, 0, r.stderr);
  await waitFor('the daemon to exit after fusermount -u', () => !pidAlive(m.pid), 10_000);
  await m.cleanup();

  m = await mountSheepfs(mnt, cluster.port(0));
  await m.stop();
  assert.not.ok(isMounted(mnt));

  m = await mountSheepfs(mnt, cluster.port(0));
  process.kill(m.pid, 'SIGKILL');
  await waitFor('auto-unmount after kill -9', () => !isMounted(mnt), 10_000);
  assert.equal(readdirSync(mnt), [], 'the mount point is a plain empty directory again');
  await m.cleanup();
});

test.run();
