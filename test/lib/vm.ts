/**
 * Booting a small VM for tests: qemu-system-x86_64 (TCG; no KVM here) with
 * Debian's kernel and a busybox initramfs built here, which loads the virtio
 * and ext4 modules, mounts its disk (an ext4 file system the host made),
 * reads the file `host.txt` the host put there and writes `guest.txt` back.
 *
 * The kernel and busybox come from `apt-get download` + `dpkg-deb`, unpacked
 * in a temp dir, never installed.
 */
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { have, sh } from './shell.js';
import type { RunResult } from './cluster.js';

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

/** Fail the test at once when a tool the VM needs is missing. */
export async function checkVmTools(): Promise<void> {
  for (const cmd of ['qemu-system-x86_64', 'cpio', 'apt-get', 'dpkg-deb', 'debugfs']) {
    if (!(await have(cmd))) assert.unreachable(`${cmd} is missing (.ci/system-deps test installs it)`);
  }
}

/** Fetch and unpack the kernel, its modules we need, and busybox; build the initramfs. */
export async function buildBootFiles(dir: string): Promise<{ kernel: string; initrd: string }> {
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

/** Boot with `drive` (a -drive value) as the virtio disk; the guest prints GUEST-DONE when its work is done. */
export function bootVm(boot: { kernel: string; initrd: string }, drive: string, timeoutMs = 150_000): Promise<RunResult> {
  return sh(`qemu-system-x86_64 -accel tcg -m 256 -nographic -no-reboot -nic none -kernel ${boot.kernel} -initrd ${boot.initrd} ` +
    `-append 'console=ttyS0 quiet panic=-1' -drive ${drive}`, timeoutMs);
}
