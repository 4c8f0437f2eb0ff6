/**
 * Group and the cluster engine in one process (test/lib/group-sim.ts): join,
 * format, a member's death, its restart, the master's death, a partition and
 * a whole-cluster restart, each under several seeded message orders. Every
 * step checks what Group decided (epochs, member lists, what it told the
 * daemon), and a seed replays the same run exactly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SD_STATUS } from '../../shared/proto/flags.js';
import { SimCluster, type SimSheep } from '../lib/group-sim.js';

const A = 7301;
const B = 7302;
const C = 7303;
const D = 7304;
const SEEDS = [undefined, 1, 2, 3, 4, 5, 6, 7];

const ports = (s: SimSheep) => s.group.members.map((n) => n.port);
const epochNodes = (s: SimSheep) => s.group.cinfo.nodes.map((n) => n.port);

/** Every live sheep keeps the same record of every epoch it has. */
function sameHistory(sim: SimCluster): void {
  const all = [...sim.sheep.values()];
  for (const s of all) {
    for (const t of all) {
      for (const e of s.meta.epochs.keys()) {
        if (t.meta.epochs.has(e)) assert.is(s.epochLine(e), t.epochLine(e), `epoch ${e} on ${s.port} and ${t.port}`);
      }
    }
  }
}

/** The whole story; returns every sheep's trace, to compare runs of one seed. */
async function story(seed: number | undefined): Promise<string> {
  const sim = new SimCluster(seed);
  const where = `seed ${seed}`;
  try {
    // join: the first sheep settles its own join; the others are accepted by the master
    await sim.start(A);
    await sim.until('A joined', [A], (s) => s.group.joined);
    await sim.start(B);
    await sim.start(C);
    await sim.until('three members', [A, B, C], (s) => s.group.joined && s.group.members.length === 3);
    for (const p of [A, B, C]) assert.equal(ports(sim.get(p)), [A, B, C], where);
    assert.is(sim.get(A).group.epoch, 0, 'no epoch before format');

    // format: epoch 1 with every member, on every sheep
    await sim.format(B);
    await sim.until('formatted', [A, B, C], (s) => s.group.epoch === 1 && s.serving);
    for (const p of [A, B, C]) assert.equal(epochNodes(sim.get(p)), [A, B, C], where);

    // leave: C dies; the others start epoch 2 without it
    await sim.kill(C);
    await sim.until('epoch 2', [A, B], (s) => s.group.epoch === 2);
    for (const p of [A, B]) {
      assert.equal(epochNodes(sim.get(p)), [A, B], where);
      assert.ok(sim.get(p).trace.includes(`member left ${C}`));
      assert.ok(sim.get(p).trace.includes('epoch 2 after 3'), sim.get(p).trace.join('; '));
    }

    // rejoin: C restarts with its old metadata (last epoch 1), is accepted,
    // sets its objects aside (it missed epoch 2) and epoch 3 lists it again
    const c = await sim.start(C);
    await sim.until('epoch 3', [A, B, C], (s) => s.group.epoch === 3);
    assert.ok(c.trace.includes('set aside as of 1'), `${where}: ${c.trace.join('; ')}`);
    for (const p of [A, B, C]) assert.equal(epochNodes(sim.get(p)), [A, B, C], where);
    sameHistory(sim);

    // master transfer: A (the oldest member) dies; B is master now and settles D's join
    await sim.kill(A);
    await sim.until('epoch 4', [B, C], (s) => s.group.epoch === 4);
    await sim.start(D);
    await sim.until('epoch 5', [B, C, D], (s) => s.group.epoch === 5);
    for (const p of [B, C, D]) {
      assert.equal(ports(sim.get(p)), [B, C, D], where);
      assert.equal(epochNodes(sim.get(p)), [B, C, D], where);
    }
    assert.ok(sim.get(D).trace.includes('joined 3'), sim.get(D).trace.join('; '));
    sameHistory(sim);

    // partition: D is cut off (its session expires) but keeps running; the
    // others drop it in epoch 6, and D learns it lost its membership
    const d = sim.get(D);
    sim.partition(D);
    await sim.until('epoch 6', [B, C], (s) => s.group.epoch === 6);
    await sim.clock.runUntil('D told', () => d.lost !== undefined);
    for (const p of [B, C]) assert.equal(epochNodes(sim.get(p)), [B, C], where);
    assert.is(d.group.epoch, 5, 'the cut-off sheep started no epoch of its own');
    await sim.stopDriver(d);
    sim.sheep.delete(D);

    // whole-cluster restart: B alone waits for C (both are in the last
    // epoch); with C back they serve in epoch 6, no new epoch
    await sim.kill(B);
    await sim.kill(C);
    const b = await sim.start(B);
    await sim.until('B joined', [B], (s) => s.group.joined);
    await sim.clock.advance(2_000);
    assert.is(b.group.status, SD_STATUS.WAIT, `${where}: waits for the other member of epoch 6`);
    await sim.start(C);
    await sim.until('serving again', [B, C], (s) => s.serving);
    for (const p of [B, C]) assert.is(sim.get(p).group.epoch, 6, where);
    sameHistory(sim);

    return [...[A, B, C, D].map((p) => `${p}: ${sim.sheep.get(p)?.trace.join('; ') ?? '-'}`), `t=${sim.clock.now}`].join('\n');
  } finally {
    await sim.stopAll();
  }
}

for (const seed of SEEDS) {
  test(`join, leave, rejoin, master transfer, partition, restart (seed ${seed ?? 'none'})`, async () => {
    await story(seed);
  });
}

test('a seed replays the same run', async () => {
  const first = await story(3);
  const again = await story(3);
  assert.is(again, first);
});

test.run();
