/**
 * Which md disk of a sheep an object lives on: the original's md.c (1.0.1),
 * checked against its own functional test 064, whose expected output was
 * recorded with the store under /tmp/sheepdog (the placement hashes the paths).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MD_VDISK_SIZE, mdDiskOf, mdRing } from '../../sheep/store/md.js';

const MiB = 1024n * 1024n;

test('a disk stands for one vdisk a started GiB of its free space', () => {
  assert.is(MD_VDISK_SIZE, 1024n * MiB);
  const ring = mdRing([{ path: '/a', capacity: 190n * MiB }, { path: '/b', capacity: 2n * 1024n * MiB + 1n }]);
  assert.is(ring.filter((v) => v.disk.path === '/a').length, 1);
  assert.is(ring.filter((v) => v.disk.path === '/b').length, 3);
});

test('functional 064: sheep 0 with its store and a plugged 200 MB disk splits the VDI as the original', () => {
  const disks = [{ path: '/tmp/sheepdog/064/0/obj', capacity: 190n * MiB }, { path: '/tmp/sheepdog/064/3', capacity: 190n * MiB }];
  const ring = mdRing(disks);
  const vid = 0x7c2b25n;
  const count = new Map<string, number>();
  for (let i = 0n; i < 25n; i++) {
    const d = mdDiskOf(ring, (vid << 32n) | i)!;
    count.set(d.path, (count.get(d.path) ?? 0) + 1);
  }
  // 064.out after sheep 2 was killed: store 0 holds 17 data objects, disk 3 holds 8 and the inode
  assert.is(count.get(disks[0]!.path), 17);
  assert.is(count.get(disks[1]!.path), 8);
  assert.is(mdDiskOf(ring, (1n << 63n) | (vid << 32n))!.path, disks[1]!.path);
  assert.is(mdDiskOf([], 1n), undefined);
});

test.run();
