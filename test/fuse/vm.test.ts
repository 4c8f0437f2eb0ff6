/**
 * A VM boots from a sheepfs volume (test/lib/vm.ts): it mounts the volume (an
 * ext4 file system the host made on it), reads the file the host put there
 * and writes one back; the host then finds the guest's file in the VDI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster } from '../lib/cluster.js';
import { bootVm, buildBootFiles, checkVmTools } from '../lib/vm.js';
import { mountSheepfs, sh, type Mount } from './lib.js';

let cluster: TestCluster;
let m: Mount;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-vm-'));
const mnt = join(dir, 'mnt');
const volume = join(mnt, 'vdi', 'vm.img', 'volume');

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

test('a VM boots with its disk on a sheepfs volume, reads the host\'s file and writes one back', async () => {
  await checkVmTools();
  const boot = await buildBootFiles(dir);
  // the host makes the file system and puts a file in it, through sheepfs
  const hostFile = join(dir, 'host.txt');
  writeFileSync(hostFile, `hello from the host ${process.pid}\n`);
  let r = await sh(`mkfs.ext4 -q -F ${volume} && debugfs -w -R 'write ${hostFile} host.txt' ${volume}`);
  assert.is(r.code, 0, r.stderr);

  const t0 = Date.now();
  r = await bootVm(boot, `file=${volume},format=raw,if=virtio,cache=none`);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  assert.match(r.out, /GUEST-DONE/, `qemu (${r.code}) after ${secs} s:\n${r.out.slice(-3000)}\n${r.stderr}`);
  console.log(`VM booted, mounted the volume, read and wrote in ${secs} s`);

  r = await sh(`debugfs -R 'cat guest.txt' ${volume} 2>/dev/null`);
  assert.is(r.out, `guest read: hello from the host ${process.pid}\n`);
  r = await sh(`e2fsck -fn ${volume}`);
  assert.is(r.code, 0, r.out);
});

test.run();
