/**
 * A dead member's leave goes into the cluster log once, not once per member:
 * every member appending its own (99 leaves per death at 100 members, all
 * racing for the same log positions) was most of the log's growth at scale.
 * The first living member reports it; a later one does only when the first
 * did not (it is stuck), after LEAVE_BACKUP_MS times its place.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LEAVE_BACKUP_MS } from '../../sheep/cluster/engine.js';
import { SimCluster } from '../lib/group-sim.js';

const PORTS = [7311, 7312, 7313, 7314, 7315];
const SEEDS = [undefined, 1, 2, 3];

/** Event types in the cluster log, in order (the engine's frame: a 4-byte length, then a JSON header). */
async function eventTypes(sim: SimCluster): Promise<string[]> {
  const b = sim.log.backend();
  const out: string[] = [];
  for (let seq = 1; seq <= await b.maxSeq(); seq++) {
    const raw = await b.read(seq);
    if (raw) out.push(String((JSON.parse(raw.subarray(4, 4 + raw.readUInt32LE(0)).toString()) as { t: unknown }).t));
  }
  return out;
}

const leaves = async (sim: SimCluster) => (await eventTypes(sim)).filter((t) => t === 'leave').length;

async function started(seed: number | undefined): Promise<SimCluster> {
  const sim = new SimCluster(seed);
  for (const p of PORTS) await sim.start(p);
  await sim.until('five members', PORTS, (s) => s.group.joined && s.group.members.length === PORTS.length);
  await sim.format(PORTS[0]!);
  await sim.until('formatted', PORTS, (s) => s.group.epoch === 1);
  return sim;
}

for (const seed of SEEDS) {
  test(`one leave event per death, also the master's (seed ${seed ?? 'none'})`, async () => {
    const sim = await started(seed);
    try {
      await sim.kill(7313);
      await sim.until('epoch 2', [7311, 7312, 7314, 7315], (s) => s.group.epoch === 2);
      // the others had time to append theirs, had they been going to
      await sim.clock.advance(LEAVE_BACKUP_MS * PORTS.length);
      assert.is(await leaves(sim), 1, 'one leave for a member that died');
      // the master dies: the next member in order reports it
      await sim.kill(7311);
      await sim.until('epoch 3', [7312, 7314, 7315], (s) => s.group.epoch === 3);
      await sim.clock.advance(LEAVE_BACKUP_MS * PORTS.length);
      assert.is(await leaves(sim), 2, 'one leave for the master');
      for (const p of [7312, 7314, 7315]) assert.equal(sim.get(p).group.members.map((n) => n.port), [7312, 7314, 7315]);
    } finally {
      await sim.stopAll();
    }
  });
}

test('a member whose first reporter is stuck still leaves: the next one reports it', async () => {
  const sim = await started(1);
  try {
    // the master's liveness checks hang (its ZooKeeper answers nothing, say), but it stays registered
    sim.get(7311).backend.alive = () => new Promise(() => {});
    const t0 = sim.clock.now;
    await sim.kill(7314);
    await sim.until('epoch 2', [7311, 7312, 7313, 7315], (s) => s.group.epoch === 2);
    const took = sim.clock.now - t0;
    assert.ok(took >= LEAVE_BACKUP_MS, `reported by the backup after ${took} ms`);
    assert.ok(took < 2 * LEAVE_BACKUP_MS, `by the second member, not a later one (${took} ms)`);
    await sim.clock.advance(LEAVE_BACKUP_MS * PORTS.length);
    assert.is(await leaves(sim), 1);
  } finally {
    await sim.stopAll();
  }
});

test.run();
