/**
 * Commands `dog -h` lists that used to do nothing: `benchmark io` against real
 * sheep, and `upgrade` (object-location reads a real epoch file; the 0.7/0.8
 * converters say clearly that there is nothing to convert).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeNodes, nodeIdString, SD_NODE_SIZE } from '../../shared/node.js';
import { VnodeRing } from '../../shared/placement.js';
import { ORIGINAL_BIN, TestCluster, run, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const ORIGINAL_DOG = join(ORIGINAL_BIN, 'dog');
let c: TestCluster;

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

test.before(async () => {
  c = await TestCluster.start({ nodes: 3, copies: 2 });
  await dog(['vdi', 'create', 'thin', String(16 * MiB)]);
  await dog(['vdi', 'create', '-P', 'full', String(16 * MiB)]);
  await dog(['vdi', 'write', 'full', '0', String(16 * MiB)], Buffer.alloc(16 * MiB, 0x5a));
});

test.after(async () => {
  await c?.cleanup();
});

test('benchmark io overwrites every object of a preallocated VDI with zeros', async () => {
  const r = await dog(['benchmark', 'io', '-f', '-t', '8', 'full']);
  assert.is(r.out, '');
  assert.is(r.stderr, '');
  const data = (await dog(['vdi', 'read', 'full'])).stdout;
  assert.ok(data.equals(Buffer.alloc(16 * MiB)), 'the VDI reads back as zeros');
  for (const wq of [['-w', 'dynamic'], ['-w', 'unlimited'], ['-w', 'fixed', '-n', '3'], ['-w', 'ordered']]) {
    await dog(['benchmark', 'io', '-f', '-t', '12', ...wq, 'full']);
  }
});

test('benchmark io refusals', async () => {
  const thin = await c.dog(['benchmark', 'io', '-f', 'thin']);
  assert.is(thin.code, 2);
  assert.is(thin.stderr, 'VDI thin has unallocated data\n');
  const none = await c.dog(['benchmark', 'io', '-f', 'nosuch']);
  assert.is(none.code, 2);
  assert.match(none.stderr, /^failed to lookup VDI nosuch: /);
  const wq = await c.dog(['benchmark', 'io', '-f', '-w', 'bogus', 'full']);
  assert.is(wq.code, 2);
  assert.is(wq.stderr, 'unknown workqueue type: bogus\nassumed workqueue types: ordered, dynamic, unlimited\n');
  // without -f it asks; anything but yes writes nothing
  await dog(['vdi', 'write', 'full', '0', '4096'], Buffer.alloc(4096, 1));
  const no = await c.dog(['benchmark', 'io', 'full'], { input: 'no\n' });
  assert.is(no.code, 0);
  assert.match(no.out, /^Caution! benchmark io command will erase all data of target VDI\.\n Are you sure you want to continue\? \[yes\/no\]/);
  assert.ok((await dog(['vdi', 'read', 'full', '0', '4096'])).stdout.equals(Buffer.alloc(4096, 1)));
});

test('upgrade object-location names the node of the first copy, from a real epoch file', async () => {
  const dir = join(c.dir(0), 'epoch');
  const file = join(dir, readdirSync(dir).sort().pop()!);
  const buf = readFileSync(file);
  const ring = new VnodeRing(decodeNodes(buf, (buf.length - 8) / SD_NODE_SIZE));
  for (const oid of ['7c2b2500000000', '807c2b2500000000', '0x00fd38150000001f']) {
    const r = await c.dog(['upgrade', 'object-location', file, oid]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stderr, `${nodeIdString(ring.holders(BigInt(oid.startsWith('0x') ? oid : `0x${oid}`), 1)[0]!)}\n`);
    if (existsSync(ORIGINAL_DOG)) {
      const o = await run(ORIGINAL_DOG, ['upgrade', 'object-location', file, oid]);
      assert.is(r.stderr, o.stderr, 'as 1.0 says');
    }
  }
  const missing = await c.dog(['upgrade', 'object-location', file]);
  assert.is(missing.code, 64);
  assert.is(missing.stderr, 'please specify object id in hex format\n');
  const bad = await c.dog(['upgrade', 'object-location', join(c.root, 'nosuch'), '1']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^failed to read epoch file .*nosuch: No such file or directory\n$/);
});

test('upgrade converters: a clear answer, in the help too', async () => {
  for (const sub of ['inode-convert', 'epoch-convert', 'config-convert']) {
    const r = await c.dog(['upgrade', sub, '-o', 'v0.8', 'a', 'b'].filter((a) => sub !== 'config-convert' || (a !== '-o' && a !== 'v0.8')));
    assert.is(r.code, 1);
    assert.match(r.stderr, /never wrote the older ones: there is nothing to convert/);
    const help = await c.dog(['upgrade', sub, '-h']);
    assert.match(help.out, /this implementation never wrote/);
    const dst = await c.dog(['upgrade', sub, 'a']);
    assert.is(dst.code, 64);
    assert.match(dst.stderr, /^please specify destination file path\n/);
  }
  const v = await c.dog(['upgrade', 'inode-convert', '-o', 'v0.9', 'a', 'b']);
  assert.is(v.code, 1);
  assert.is(v.stderr, 'unknown original version: v0.9\nvalid versions are v0.7 or v0.8\n');
});

test.run();
