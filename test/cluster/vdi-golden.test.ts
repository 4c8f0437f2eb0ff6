/**
 * Snapshots, clones, attributes and deletion print what the original prints for the same
 * state: the scenario in test/golden/dog-vdi-cow.txt, replayed on 3 sheep.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePorts, ROOT, TestCluster } from '../lib/cluster.js';
import { normalise, parseGolden, replay, substitutionsFor, type Substitutions } from '../lib/golden.js';

const blocks = parseGolden(join(ROOT, 'test/golden/dog-vdi-cow.txt'));
let cluster: TestCluster;
let work: string;
let subs: Substitutions;

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 3, copies: 3 });
  work = mkdtempSync(join(tmpdir(), 'sheepdog-golden-'));
  const [refused, spare] = await freePorts(2);
  subs = substitutionsFor(cluster, work, { 7999: refused!, 7011: spare! });
});

test.after(async () => {
  await cluster?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

blocks.forEach((b, i) => {
  test(`#${i} $ ${b.command.slice(0, 80)}`, async () => {
    const r = await replay(b, cluster, subs, work);
    assert.fixture(normalise(r.output), normalise(b.output));
    assert.is(r.exitCode, b.exitCode, `exit code of: ${b.command}`);
  });
});

test.run();
