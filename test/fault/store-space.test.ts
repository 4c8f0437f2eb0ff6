/**
 * Free space. A store on a small file system (tmpfs mounted by this test) fills
 * up: the write that does not fit is refused with the no-space result, dog
 * says so, and every write acknowledged before reads back. With `cluster
 * format -F` (avoid disk full), a recovery that would overfill a sheep is
 * cancelled instead of filling it.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from '../lib/cluster.js';
import { readVdi, sha } from '../lib/recovery.js';

const MiB = 1024 * 1024;
const mounted: string[] = [];

/** A tmpfs of `mib` MiB at dir (created by us, unmounted in after()). */
function smallFs(dir: string, mib: number): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir]);
  mounted.push(dir);
}

function unmountAll(): void {
  for (const dir of mounted.splice(0)) {
    try { execFileSync('umount', [dir]); } catch { /* already gone */ }
  }
}

/** A cluster whose sheep in `small` keep their objects on a tmpfs of `mib` MiB. */
async function clusterWithSmallStores(nodes: number, small: number[], mib: number, extra: (i: number) => string[] = () => []): Promise<TestCluster> {
  const c = await TestCluster.start({ nodes, sheepArgs: extra });
  try {
    for (const i of small) {
      await c.stop(i);
      smallFs(c.objDir(i), mib);
      await waitFor(`sheep ${i} restarted`, () => c.startSheep(i).then(() => true), 30_000, 300);
    }
    await c.waitMembers(nodes);
    return c;
  } catch (e) {
    await teardown(c);
    throw e;
  }
}

test.after(() => unmountAll());

/** Sheep down, file systems unmounted, then the temp dir goes. */
async function teardown(c: TestCluster): Promise<void> {
  for (const i of [...c.pids.keys()]) await c.kill9(i);
  unmountAll();
  await c.cleanup();
}

test('a full store answers NO_SPACE, dog says so, and nothing written before is lost', async () => {
  const c = await clusterWithSmallStores(1, [0], 24);
  try {
    let r = await c.dog(['cluster', 'format', '-c', '1']);
    assert.is(r.code, 0, r.stderr);
    const VDI = 64 * MiB;
    const CHUNK = 4 * MiB;
    r = await c.dog(['vdi', 'create', 'full', String(VDI)]);
    assert.is(r.code, 0, r.stderr);
    const model = Buffer.alloc(VDI);
    let refused: string | undefined;
    for (let off = 0; off < VDI && !refused; off += CHUNK) {
      const data = randomBytes(CHUNK);
      r = await c.dog(['vdi', 'write', 'full', String(off), String(CHUNK)], { input: data });
      if (r.code === 0) data.copy(model, off);
      else refused = r.stderr;
    }
    assert.ok(refused, 'a write was refused');
    if (process.env.SHEEPDOG_TEST_VERBOSE) console.log(refused);
    assert.match(refused!, 'Server has no space for new objects');
    assert.match(refused!, 'Failed to write VDI');
    // the sheep is still serving and the store is really full
    const st = statfsSync(c.objDir(0));
    assert.ok(st.bavail * st.bsize < CHUNK, 'the file system is full');
    assert.equal(readdirSync(c.objDir(0)).filter((n) => n.endsWith('.tmp')), [], 'no half-made object left behind');
    assert.is(sha(await readVdi(c, 'full')), sha(model), 'every acknowledged write reads back');
    r = await c.dog(['vdi', 'write', 'full', String(VDI - CHUNK), String(CHUNK)], { input: randomBytes(CHUNK) });
    assert.is(r.code, 1);
    assert.match(r.stderr, 'Server has no space for new objects');
    assert.is(sha(await readVdi(c, 'full')), sha(model));
  } finally {
    await teardown(c);
  }
});

test('with format -F, a recovery that would overfill a joining sheep is cancelled everywhere', async () => {
  // fixed vnodes, so that the small sheep would get its equal share
  const c = await TestCluster.start({ nodes: 3, sheepArgs: () => ['-V', '128'] });
  try {
    // the newcomer's store is small from its first start: that is the capacity it announces
    // (8 MiB: its expected share is 24, and the ring's spread must not bring it under)
    smallFs(c.objDir(3), 8);
    let r = await c.dog(['cluster', 'format', '-c', '2', '-V', '-F']);
    assert.is(r.code, 0, r.stderr);
    r = await c.dog(['vdi', 'create', '-z', '20', 'big', String(48 * MiB)]);
    assert.is(r.code, 0, r.stderr);
    r = await c.dog(['vdi', 'write', 'big'], { input: randomBytes(48 * MiB) });
    assert.is(r.code, 0, r.stderr);
    // 96 MiB of copies over 4 sheep: about 24 MiB for the newcomer, which has 8
    await waitFor('sheep 3 restarted', () => c.startSheep(3).then(() => true), 30_000, 300);
    await c.waitMembers(4);
    for (const i of [0, 1, 2, 3]) {
      await waitFor(`sheep ${i} to cancel its recovery`, () =>
        readFileSync(`${c.dir(i)}/sheep.log`, 'utf8').includes('canceling recovery because of disk full'), 30_000, 200);
    }
    assert.match(readFileSync(`${c.dir(3)}/sheep.log`, 'utf8'), /would hold \d+ bytes but has \d+: recovery will cause disk full/);
    const st = statfsSync(c.objDir(3));
    assert.ok(st.bavail * st.bsize > 4 * MiB, 'the small sheep was not filled');
  } finally {
    await teardown(c);
  }
});

test.run();
