/**
 * Membership changes under data, for any cluster driver: sheep die while a
 * writer streams, come back, new sheep join (and die while recovering), the
 * whole cluster shuts down and restarts. Every acknowledged byte must read
 * back, and after recovery every object must again have exactly `copies`
 * copies on distinct sheep. test/fault/recovery*.test.ts run it per driver.
 */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, waitFor } from './cluster.js';
import { objectHolders, readVdi, sha, waitRecovered } from './recovery.js';

const MiB = 1024 * 1024;
const VDI_SIZE = 32 * MiB;
const CHUNK = 1 * MiB;
const COPIES = 3;
const MANY_SIZE = 24 * MiB;

export interface RecoverySuiteSetup {
  /** the `-c` argument (undefined: the local driver) */
  driver?: () => string | undefined;
  /** runs before the cluster starts (e.g. start ZooKeeper) */
  before?: () => Promise<void>;
  after?: () => Promise<void>;
  /** a reason to skip every test, e.g. a missing package */
  skip?: string;
}

export function recoverySuite(name: string, setup: RecoverySuiteSetup = {}): void {
  const test = suite(name);
  const model = Buffer.alloc(VDI_SIZE);
  // 1 MiB objects: enough of them that every newcomer owns several, so its
  // throttled recovery lasts long enough to be watched and interrupted
  const many = randomBytes(MANY_SIZE);
  let cluster: TestCluster;
  /** sheep indices currently running */
  let up: number[] = [];
  const t = (title: string, fn: () => Promise<void>) => (setup.skip ? test.skip(title, fn) : test(title, fn));

  async function write(off: number, len: number, port?: number): Promise<void> {
    const data = randomBytes(len);
    const r = await cluster.dog(['vdi', 'write', 'stream', String(off), String(len)], { input: data, port });
    assert.is(r.code, 0, `write ${off}+${len}: ${r.stderr}`);
    data.copy(model, off);
  }

  async function assertContents(port?: number): Promise<void> {
    const back = await readVdi(cluster, 'stream', port);
    assert.is(back.length, VDI_SIZE);
    assert.is(sha(back), sha(model), 'every acknowledged byte reads back');
    assert.is(sha(await readVdi(cluster, 'many', port)), sha(many), 'the small-object VDI reads back');
  }

  function assertCopies(expected: number): void {
    const holders = objectHolders(cluster, up);
    assert.ok(holders.size > 0, 'objects on disk');
    for (const [name, at] of holders) {
      assert.is(new Set(at).size, at.length);
      assert.is(at.length, expected, `${name} on sheep ${at.join(',')}`);
    }
  }

  test.before(async () => {
    if (setup.skip) return;
    await setup.before?.();
    cluster = await TestCluster.start({ nodes: 5, copies: COPIES, driver: setup.driver?.() });
    up = [0, 1, 2, 3, 4];
    const r = await cluster.dog(['vdi', 'create', 'stream', String(VDI_SIZE)]);
    assert.is(r.code, 0, r.stderr);
    assert.is((await cluster.dog(['vdi', 'create', '-z', '20', 'many', String(MANY_SIZE)])).code, 0);
    const w = await cluster.dog(['vdi', 'write', 'many'], { input: many });
    assert.is(w.code, 0, w.stderr);
  });

  test.after(async () => {
    await cluster?.cleanup();
    await setup.after?.();
  });

  t('a writer streams while two sheep are killed -9; all data survives and recovers to 3 copies', async () => {
    const chunks = VDI_SIZE / CHUNK;
    for (let c = 0; c < chunks; c++) {
      if (c === 8) { await cluster.kill9(4); up = up.filter((i) => i !== 4); }
      if (c === 20) { await cluster.kill9(3); up = up.filter((i) => i !== 3); }
      await write(c * CHUNK, CHUNK);
    }
    await assertContents();
    await waitRecovered(cluster, up);
    assertCopies(COPIES);
    await cluster.startSheep(3);
    await cluster.startSheep(4);
    up = [0, 1, 2, 3, 4];
    await cluster.waitMembers(5);
    await waitRecovered(cluster, up);
    assertCopies(COPIES);
    await assertContents(cluster.port(4));
  });

  t('a joining sheep gets its share; dog node recovery shows progress then completion', async () => {
    // a throttled newcomer, so that its recovery can be watched
    await cluster.startSheep(5, ['-R', 'max=1,interval=400']);
    up = [0, 1, 2, 3, 4, 5];
    await cluster.waitMembers(6);
    const seen = await waitFor('a recovery row for the new sheep', async () => {
      const r = await cluster.dog(['node', 'recovery'], { port: cluster.port(5) });
      const rows = r.out.trim().split('\n').slice(2);
      return rows.find((l) => l.includes(`:${cluster.port(5)}`));
    }, 20_000, 100);
    assert.match(seen ?? "", /%$/);
    await waitRecovered(cluster, up);
    assert.ok(objectHolders(cluster, [5]).size > 0, 'objects moved to the new sheep');
    assertCopies(COPIES);
    await assertContents(cluster.port(5));
  });

  t('a sheep dies while a newcomer is still recovering: nothing is lost', async () => {
    await cluster.startSheep(6, ['-R', 'max=1,interval=400']);
    up = [...up, 6];
    await cluster.waitMembers(7);
    await waitFor('the newcomer to be recovering', async () => {
      const r = await cluster.dog(['node', 'recovery'], { port: cluster.port(6) });
      return r.out.trim().split('\n').length > 2;
    }, 20_000, 100);
    await cluster.kill9(1);
    up = up.filter((i) => i !== 1);
    await write(5 * CHUNK + 4096, 3 * CHUNK);
    await waitRecovered(cluster, up, 120_000);
    assertCopies(COPIES);
    await assertContents(cluster.port(6));
  });

  t('shutdown and restart keeps everything; a partial restart waits for the rest', async () => {
    const r = await cluster.dog(['cluster', 'shutdown']);
    assert.is(r.code, 0, r.stderr);
    for (const i of up) await cluster.waitExited(i);
    const last = [...up];
    await cluster.startSheep(last[0]!);
    await cluster.startSheep(last[1]!);
    await cluster.waitMembers(2, last[0]);
    const info = await cluster.dog(['cluster', 'info'], { port: cluster.port(last[0]!) });
    assert.match(info.out, /Waiting for other nodes to join cluster/);
    const read = await cluster.dog(['vdi', 'read', 'stream', '0', '512'], { port: cluster.port(last[0]!) });
    assert.is.not(read.code, 0, 'no I/O while waiting');
    for (const i of last.slice(2)) await cluster.startSheep(i);
    await cluster.waitMembers(last.length, last[0]);
    await waitFor('the cluster to run', async () => {
      const i2 = await cluster.dog(['cluster', 'info'], { port: cluster.port(last[0]!) });
      return /Cluster status: running/.test(i2.out);
    }, 20_000);
    await assertContents(cluster.port(last[0]!));
    assertCopies(COPIES);
  });

  if (setup.skip) {
    console.log(`skip: ${setup.skip}`);
  }
  test.run();
}
