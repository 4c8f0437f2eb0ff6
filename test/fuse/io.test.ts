/**
 * Volumes used by ordinary tools: dd against dog vdi read/write, qemu-img and
 * qemu-io (buffered and -t none), qemu-img convert both ways, and an ext4 file
 * system on a volume through a loop device.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster } from '../lib/cluster.js';
import { have, mountSheepfs, sh, type Mount } from './lib.js';

let cluster: TestCluster;
let m: Mount;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-io-'));
const mnt = join(dir, 'mnt');
const vol = (name: string): string => join(mnt, 'vdi', name, 'volume');
const MiB = 1 << 20;
let dogEnv = '';

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 3, copies: 3 });
  for (const [name, size] of [['a.img', '128M'], ['b.img', '128M'], ['fs.img', '128M']]) {
    assert.is((await cluster.dog(['vdi', 'create', name!, size!])).code, 0);
  }
  m = await mountSheepfs(mnt, cluster.port(0));
  dogEnv = `SHEEPDOG_DOG_PORT=${cluster.port(0)} SHEEPDOG_DOG_ADDR=127.0.0.1`;
});

test.after(async () => {
  await sh(`umount ${join(dir, 'ext4')} 2>/dev/null; for l in $(losetup -j ${vol('fs.img')} -O NAME -n); do losetup -d $l; done`).catch(() => {});
  await m?.cleanup();
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const DOG = join(process.cwd(), 'dog/dog');
const sha = async (cmd: string): Promise<string> => {
  const r = await sh(`${cmd} | sha256sum`);
  assert.is(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.out.split(' ')[0]!;
};

test('dd of random data to a volume reads back the same through dog vdi read, and the reverse', async () => {
  const src = join(dir, 'r24.bin');
  writeFileSync(src, randomBytes(24 * MiB));
  const want = await sha(`cat ${src}`);
  // 24 MiB at 10 MiB: unaligned to objects on both ends
  let r = await sh(`dd if=${src} of=${vol('a.img')} bs=1M seek=10 conv=notrunc,fsync status=none`);
  assert.is(r.code, 0, r.stderr);
  assert.is(await sha(`${dogEnv} ${DOG} vdi read a.img 10M 24M`), want);
  assert.is(await sha(`dd if=${vol('a.img')} bs=1M skip=10 count=24 status=none`), want);
  // the reverse: dog writes, the volume shows it (also with O_DIRECT)
  const src2 = join(dir, 'r9.bin');
  writeFileSync(src2, randomBytes(9 * MiB));
  r = await sh(`${dogEnv} ${DOG} vdi write b.img 3M 9M < ${src2}`);
  assert.is(r.code, 0, r.stderr);
  const want2 = await sha(`cat ${src2}`);
  assert.is(await sha(`dd if=${vol('b.img')} bs=1M skip=3 count=9 status=none`), want2);
  assert.is(await sha(`dd if=${vol('b.img')} bs=1M skip=3 count=9 iflag=direct status=none`), want2);
  // unwritten space reads as zeros
  assert.is(await sha(`dd if=${vol('b.img')} bs=1M skip=100 count=4 status=none`), await sha('head -c 4M /dev/zero'));
});

test('qemu-img info and qemu-io write/read patterns, buffered and with -t none', async () => {
  if (!(await have('qemu-io'))) assert.unreachable('qemu-utils is not installed (.ci/system-deps test)');
  let r = await sh(`qemu-img info -f raw ${vol('b.img')}`);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.out, /virtual size: 128 MiB \(134217728 bytes\)/);
  for (const cache of [[], ['-t', 'none']]) {
    const c = cache.join(' ');
    r = await sh(`qemu-io -f raw ${c} -c 'write -P 0xab 0 64k' -c 'write -P 0x5a 5M 1536k' -c 'read -P 0xab 0 64k' -c 'read -P 0x5a 5M 1536k' -c 'read -P 0 100M 4k' ${vol('b.img')} 2>&1; echo`);
    assert.ok(!/Pattern verification failed|error|failed/i.test(r.out), `${c}: ${r.out}`);
    assert.is(r.out.match(/^read \d+\/\d+ bytes/gm)?.length ?? 0, 3, `${c}: ${r.out}`);
    // what QEMU wrote, dog reads
    assert.is(await sha(`${dogEnv} ${DOG} vdi read b.img 5M 1536k`), await sha(`head -c 1536k /dev/zero | tr '\\0' '\\132'`));
  }
});

test('qemu-img convert from a volume to a file and from a file to another volume: cmp equal', async () => {
  const out = join(dir, 'a.raw');
  let r = await sh(`qemu-img convert -f raw -O raw ${vol('a.img')} ${out} && cmp ${vol('a.img')} ${out}`, 180_000);
  assert.is(r.code, 0, r.stderr);
  r = await sh(`qemu-img convert -n -f raw -O raw ${out} ${vol('b.img')} && cmp ${vol('a.img')} ${vol('b.img')}`, 180_000);
  assert.is(r.code, 0, r.stderr);
});

test('mkfs.ext4 through a loop device, files survive a remount, fsck -n is clean', async () => {
  const fsmnt = join(dir, 'ext4');
  mkdirSync(fsmnt);
  const src = join(dir, 'file.bin');
  writeFileSync(src, randomBytes(5 * MiB));
  const want = await sha(`cat ${src}`);
  const loop = (await sh(`losetup -f --show ${vol('fs.img')}`)).out.trim();
  assert.match(loop, /^\/dev\/loop\d+$/);
  try {
    let r = await sh(`mkfs.ext4 -q -F ${loop}`);
    assert.is(r.code, 0, r.stderr);
    r = await sh(`mount ${loop} ${fsmnt} && mkdir ${fsmnt}/d && cp ${src} ${fsmnt}/d/file.bin && echo hello > ${fsmnt}/hello && umount ${fsmnt}`);
    assert.is(r.code, 0, r.stderr);
    r = await sh(`mount -o ro ${loop} ${fsmnt} && cat ${fsmnt}/hello && sha256sum ${fsmnt}/d/file.bin; umount ${fsmnt}`);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.out.split('\n')[0], 'hello');
    assert.is(r.out.split('\n')[1]!.split(' ')[0], want);
    r = await sh(`fsck.ext4 -n -f ${loop}`);
    assert.is(r.code, 0, r.out + r.stderr);
  } finally {
    await sh(`umount ${fsmnt} 2>/dev/null; losetup -d ${loop}`);
  }
  // the file system is in the VDI: dog reads the ext4 magic at 1080
  const magic = await sh(`${dogEnv} ${DOG} vdi read fs.img 1080 2 | od -An -tx1`);
  assert.is(magic.out.trim(), '53 ef');
});

test.run();
