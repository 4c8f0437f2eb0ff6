/**
 * A VM boots from a sheepfs volume: qemu-system-x86_64 (TCG; no KVM here)
 * with Debian's kernel and a busybox initramfs built here, which loads the
 * virtio and ext4 modules, mounts the volume (an ext4 file system the host
 * made on it), reads the file the host put there and writes one back; the
 * host then finds the guest's file in the VDI.
 *
 * The kernel and busybox come from `apt-get download` + `dpkg-deb`, unpacked
 * in a temp dir, never installed.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster } from '../lib/cluster.js';
import { have, mountSheepfs, sh, type Mount } from './lib.js';

let cluster: TestCluster;
let m: Mount;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-vm-'));
const mnt = join(dir, 'mnt');
const volume = join(mnt, 'vdi', 'vm.img', 'volume');

/** Module load order: each after what it needs. */
const MODULES = [
  'drivers/virtio/virtio_ring', 'drivers/virtio/virtio', 'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev', 'drivers/virtio/virtio_pci', 'drivers/block/virtio_blk',
  'lib/crc16', 'fs/mbcache', 'crypto/crc32c_generic', 'fs/jbd2/jbd2', 'fs/ext4/ext4',
];

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.map((p) => p.split('/').pop()).join(' ')}; do insmod /modules/$m.ko || echo "insmod $m failed"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /mnt
if mount -t ext4 /dev/vda /mnt; then
  echo "guest read: $(cat /mnt/host.txt)" > /mnt/guest.txt
  sync
  umount /mnt
  echo GUEST-DONE
else
  echo GUEST-MOUNT-FAILED
fi
poweroff -f
`;

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 3, copies: 2 });
  assert.is((await cluster.dog(['vdi', 'create', 'vm.img', '64M'])).code, 0);
  m = await mountSheepfs(mnt, cluster.port(0));
});

test.after(async () => {
  await m?.cleanup();
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Fetch and unpack the kernel, its modules we need, and busybox; build the initramfs. */
async function buildBootFiles(): Promise<{ kernel: string; initrd: string }> {
  const debs = join(dir, 'debs');
  mkdirSync(debs);
  let r = await sh(`cd ${debs} && pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}') && apt-get download -q "$pkg" busybox-static 2>&1`, 240_000);
  assert.is(r.code, 0, `apt-get download: ${r.out}${r.stderr}`);
  const k = join(dir, 'k');
  mkdirSync(k);
  r = await sh(`dpkg-deb --fsys-tarfile ${debs}/linux-image-*.deb | tar -x -C ${k} --wildcards './boot/vmlinuz-*' ${MODULES.map((p) => `'./lib/modules/*/kernel/${p}.ko'`).join(' ')}`, 120_000);
  assert.is(r.code, 0, r.stderr);
  const root = join(dir, 'initramfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'mnt', 'modules']) mkdirSync(join(root, d), { recursive: true });
  r = await sh(`dpkg-deb -x ${debs}/busybox-static_*.deb ${dir}/bb && cp ${dir}/bb/bin/busybox ${root}/bin/busybox && cp $(find ${k}/lib/modules -name '*.ko') ${root}/modules/`);
  assert.is(r.code, 0, r.stderr);
  writeFileSync(join(root, 'init'), INIT);
  chmodSync(join(root, 'init'), 0o755);
  const initrd = join(dir, 'initrd.gz');
  r = await sh(`cd ${root} && find . | cpio -o -H newc --quiet | gzip -1 > ${initrd}`);
  assert.is(r.code, 0, r.stderr);
  const kernel = join(k, 'boot', readdirSync(join(k, 'boot')).find((f) => f.startsWith('vmlinuz-'))!);
  return { kernel, initrd };
}

test('a VM boots with its disk on a sheepfs volume, reads the host\'s file and writes one back', async () => {
  for (const cmd of ['qemu-system-x86_64', 'cpio', 'apt-get', 'dpkg-deb', 'debugfs']) {
    if (!(await have(cmd))) assert.unreachable(`${cmd} is missing (.ci/system-deps test installs it)`);
  }
  const { kernel, initrd } = await buildBootFiles();
  // the host makes the file system and puts a file in it, through sheepfs
  const hostFile = join(dir, 'host.txt');
  writeFileSync(hostFile, `hello from the host ${process.pid}\n`);
  let r = await sh(`mkfs.ext4 -q -F ${volume} && debugfs -w -R 'write ${hostFile} host.txt' ${volume}`);
  assert.is(r.code, 0, r.stderr);

  const t0 = Date.now();
  r = await sh(`qemu-system-x86_64 -accel tcg -m 256 -nographic -no-reboot -nic none -kernel ${kernel} -initrd ${initrd} ` +
    `-append 'console=ttyS0 quiet panic=-1' -drive file=${volume},format=raw,if=virtio,cache=none`, 150_000);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  assert.match(r.out, /GUEST-DONE/, `qemu (${r.code}) after ${secs} s:\n${r.out.slice(-3000)}\n${r.stderr}`);
  console.log(`VM booted, mounted the volume, read and wrote in ${secs} s`);

  r = await sh(`debugfs -R 'cat guest.txt' ${volume} 2>/dev/null`);
  assert.is(r.out, `guest read: hello from the host ${process.pid}\n`);
  r = await sh(`e2fsck -fn ${volume}`);
  assert.is(r.code, 0, r.out);
});

test.run();
