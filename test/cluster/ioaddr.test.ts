/**
 * `-i host=IP,port=PORT`: sheep send object traffic to each other's I/O
 * address (here another loopback address and port), cluster membership stays
 * on the main one, and data written through any sheep reads back.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePorts, run, TestCluster } from '../lib/cluster.js';
import { readVdi, sha } from '../lib/recovery.js';

let cluster: TestCluster;
let ioPorts: number[] = [];

test.before(async () => {
  ioPorts = await freePorts(3);
  cluster = await TestCluster.start({ nodes: 3, copies: 3, sheepArgs: (i) => ['-i', `host=127.0.0.2,port=${ioPorts[i]}`] });
});

test.after(async () => {
  await cluster?.cleanup();
});

test('data goes over the I/O addresses and reads back through every sheep', async () => {
  const data = randomBytes(12 * 1024 * 1024);
  assert.is((await cluster.dog(['vdi', 'create', 'io', '12M'])).code, 0);
  const w = await cluster.dog(['vdi', 'write', 'io'], { input: data });
  assert.is(w.code, 0, w.stderr);
  for (const i of [0, 1, 2]) assert.is(sha(await readVdi(cluster, 'io', cluster.port(i))), sha(data));
  // established connections between sheep go to the I/O ports on 127.0.0.2
  const ss = await run('ss', ['-Htn', 'state', 'established']);
  const toIo = ioPorts.filter((p) => ss.out.includes(`127.0.0.2:${p}`));
  assert.ok(toIo.length >= 2, `peer connections to I/O ports: ${toIo.join(',')}\n${ss.out}`);
});

test.run();
