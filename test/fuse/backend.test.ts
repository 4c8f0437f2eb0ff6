/**
 * Which FUSE backend serves a mount: the kernel one by default as root, with
 * 1 MiB requests; fuse-native when asked
 * (--fuse=native or SHEEPFS_FUSE=native); the mount log line names it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { mountForeground, sh } from './lib.js';

let cluster: TestCluster;
const dir = mkdtempSync(join(tmpdir(), 'sheepfs-backend-'));
const mnt = join(dir, 'mnt');
const vol = join(mnt, 'vdi', 'b.img', 'volume');

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 1, copies: 1 });
  assert.is((await cluster.dog(['vdi', 'create', 'b.img', '64M'])).code, 0);
});

test.after(async () => {
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Mount with args, run fn, unmount; the log of the run. */
async function withMount(args: string[], fn: () => Promise<void>): Promise<string> {
  const m = await mountForeground(mnt, cluster.port(0), args);
  try {
    await waitFor('the mount log line', () => /mounted /.test(m.log()), 10_000);
    await fn();
    await m.stop();
    return m.log();
  } finally {
    await m.cleanup();
  }
}

test('the default as root is the kernel backend (1 MiB requests); 1 MiB direct writes read back', async () => {
  const log = await withMount([], async () => {
    const r = await sh(`head -c 4M /dev/urandom > ${dir}/src && dd if=${dir}/src of=${vol} bs=1M oflag=direct conv=notrunc status=none && cmp ${dir}/src <(dd if=${vol} bs=1M count=4 iflag=direct status=none)`);
    assert.is(r.code, 0, r.stderr);
  });
  assert.match(log, /mounted .*kernel FUSE 7\.\d+ over \/dev\/fuse, 1 MiB requests/);
});

test('--fuse=native and SHEEPFS_FUSE=native mount through fuse-native', async () => {
  const check = async (): Promise<void> => {
    const r = await sh(`cmp ${dir}/src <(dd if=${vol} bs=1M count=4 iflag=direct status=none)`);
    assert.is(r.code, 0, r.stderr);
  };
  assert.match(await withMount(['--fuse=native'], check), /mounted .*fuse-native \(libfuse2/);
  process.env.SHEEPFS_FUSE = 'native';
  try {
    assert.match(await withMount([], check), /mounted .*fuse-native/);
  } finally {
    delete process.env.SHEEPFS_FUSE;
  }
});

test('an unknown backend is refused before anything is mounted', async () => {
  const r = await sh(`${join(process.cwd(), 'sheepfs/sheepfs')} --fuse=cuse ${mnt}`);
  assert.is(r.code, 1);
  assert.match(r.stderr, /unknown FUSE backend 'cuse'/);
});

test.run();
