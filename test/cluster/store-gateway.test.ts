/**
 * A gateway-only sheep (-g) joins, serves clients and forwards their I/O, but
 * stores nothing: after 100 MiB written through it, it holds no object, while
 * every byte reads back through it and through a storing sheep.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster } from '../lib/cluster.js';
import { readVdi, sha } from '../lib/recovery.js';

const MiB = 1024 * 1024;
const GW = 3;
let cluster: TestCluster;

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 4, copies: 2, sheepArgs: (i) => (i === GW ? ['-g'] : []) });
});

test.after(async () => {
  await cluster?.cleanup();
});

test('100 MiB through a gateway-only sheep: it holds no object and every byte reads back', async () => {
  const port = cluster.port(GW);
  let r = await cluster.dog(['vdi', 'create', 'gw', String(100 * MiB)], { port });
  assert.is(r.code, 0, r.stderr);
  const data = randomBytes(100 * MiB);
  r = await cluster.dog(['vdi', 'write', 'gw'], { input: data, port });
  assert.is(r.code, 0, r.stderr);
  const dir = cluster.objDir(GW);
  const held = existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{16}/.test(n)) : [];
  assert.equal(held, [], 'the gateway stores nothing');
  let stored = 0;
  for (let i = 0; i < GW; i++) stored += readdirSync(cluster.objDir(i)).filter((n) => /^[0-9a-f]{16}/.test(n)).length;
  assert.ok(stored >= 2 * 25, 'the storing sheep hold both copies');
  assert.is(sha(await readVdi(cluster, 'gw', port)), sha(data));
  assert.is(sha(await readVdi(cluster, 'gw', cluster.port(0))), sha(data));
  // it is a member with no vnodes and no space
  r = await cluster.dog(['node', 'list', '-r'], { port });
  assert.is(r.code, 0, r.stderr);
  const row = r.out.split('\n').find((l) => l.includes(`:${port} `));
  assert.ok(row, r.out);
  assert.match(row!, / 0 \d+$/);
});

test.run();
