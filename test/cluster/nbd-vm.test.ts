/**
 * A VM boots from a VDI over NBD (test/lib/vm.ts), as QEMU users run it now
 * that QEMU has no sheepdog driver: `-drive file=nbd+unix:///NAME?socket=...`.
 * The host makes an ext4 image with a file in it and copies it into the VDI
 * with qemu-img; the guest reads it and writes one back; the host copies the
 * VDI out and finds the guest's file, and a clean file system.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster } from '../lib/cluster.js';
import { sh } from '../lib/shell.js';
import { bootVm, buildBootFiles, checkVmTools } from '../lib/vm.js';

let c: TestCluster;
const dir = mkdtempSync(join(tmpdir(), 'sheep-nbd-vm-'));
const sock = join(dir, 'nbd.sock');
const uri = `nbd+unix:///vm.img?socket=${sock}`;

test.before(async () => {
  c = await TestCluster.start({ nodes: 3, copies: 2, sheepArgs: (i) => (i === 1 ? ['--nbd-unix', sock] : []) });
  assert.is((await c.dog(['vdi', 'create', 'vm.img', '64M'])).code, 0);
});

test.after(async () => {
  await c?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('a VM boots with its disk on a VDI over NBD, reads the host\'s file and writes one back', async () => {
  await checkVmTools();
  const boot = await buildBootFiles(dir);
  const image = join(dir, 'disk.raw');
  const hostFile = join(dir, 'host.txt');
  writeFileSync(hostFile, `hello over NBD ${process.pid}\n`);
  let r = await sh(`truncate -s 64M ${image} && mkfs.ext4 -q -F ${image} && debugfs -w -R 'write ${hostFile} host.txt' ${image}` +
    ` && qemu-img convert -n -f raw -O raw ${image} '${uri}'`);
  assert.is(r.code, 0, r.stderr);

  const t0 = Date.now();
  r = await bootVm(boot, `file=${uri},format=raw,if=virtio,cache=none`);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  assert.match(r.out, /GUEST-DONE/, `qemu (${r.code}) after ${secs} s:\n${r.out.slice(-3000)}\n${r.stderr}`);
  console.log(`VM booted from NBD, mounted its disk, read and wrote in ${secs} s`);

  const out = join(dir, 'out.raw');
  r = await sh(`qemu-img convert -f raw -O raw '${uri}' ${out} && debugfs -R 'cat guest.txt' ${out} 2>/dev/null`);
  assert.is(r.out, `guest read: hello over NBD ${process.pid}\n`, r.stderr);
  r = await sh(`e2fsck -fn ${out}`);
  assert.is(r.code, 0, r.out);
});

test.run();
