/**
 * Recovery decided in one process (test/lib/recovery-sim.ts): real stores,
 * one membership, peers answering from each other's stores. A join, a leave,
 * a member that cannot be listed, a recovery superseded by the next epoch, and
 * a peer op that asks for an object before its turn; each checks who holds
 * what afterwards, the phases and the completion reports.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RECOVERY_PHASE } from '../../sheep/recovery.js';
import { objectBytes, RecoverySim, SIM_OBJ_SIZE } from '../lib/recovery-sim.js';

const [A, B, C, D] = [7501, 7502, 7503, 7504];
const OIDS = Array.from({ length: 40 }, (_, i) => (0x10n << 32n) | BigInt(i));

/** Every object is live, with its bytes, exactly on its holders of the current epoch. */
async function placedAsRing(sim: RecoverySim): Promise<void> {
  for (const oid of OIDS) {
    const holders = sim.holders(oid);
    for (const m of sim.members.values()) {
      if (sim.down.has(m.port)) continue;
      const has = m.store.exists({ oid, ec: undefined });
      assert.is(has, holders.includes(m.port), `${oid.toString(16)} on ${m.port} (holders ${holders})`);
      if (has) assert.ok((await m.store.read({ oid, ec: undefined }, 0, SIM_OBJ_SIZE)).equals(objectBytes(oid)), 'same bytes');
    }
  }
}

const phase = (b: Buffer) => ({ running: b[0] === 1, phase: b.readUInt32LE(4), finished: b.readBigUInt64LE(8), total: b.readBigUInt64LE(16) });

async function cluster(ports: number[]): Promise<RecoverySim> {
  const sim = new RecoverySim();
  for (const p of [A, B, C, D]) await sim.add(p);
  sim.setEpoch(ports);
  for (const oid of OIDS) await sim.write(oid);
  return sim;
}

test('a join: the new member fetches what it owns, the others set aside what they no longer own, stale copies go once all reported', async () => {
  const sim = await cluster([A, B, C]);
  try {
    assert.is(sim.get(D).store.oids().length, 0);
    sim.setEpoch([A, B, C, D]);
    sim.startAll();
    assert.equal(phase(sim.get(D).recovery.state()), { running: true, phase: RECOVERY_PHASE.PREPARE, finished: 0n, total: 0n });
    await sim.settled();
    await placedAsRing(sim);
    const moved = OIDS.filter((oid) => sim.holders(oid).includes(D)).length;
    assert.ok(moved > 0 && moved < OIDS.length, `D owns ${moved} of ${OIDS.length}`);
    assert.is(sim.get(D).store.oids().length, moved);
    for (const p of [A, B, C, D]) {
      assert.equal(sim.get(p).reported, [2], `${p} reported epoch 2 once`);
      assert.equal(sim.get(p).store.staleOids(), [], `${p}: stale copies dropped after every member reported`);
      assert.is(phase(sim.get(p).recovery.state()).running, false);
    }
  } finally {
    await sim.close();
  }
});

test('a leave: the survivors rebuild the lost copies from each other', async () => {
  const sim = await cluster([A, B, C, D]);
  try {
    sim.down.add(D);
    sim.setEpoch([A, B, C]);
    sim.startAll();
    await sim.settled();
    await placedAsRing(sim);
    for (const p of [A, B, C]) assert.equal(sim.get(p).reported, [2]);
  } finally {
    await sim.close();
  }
});

test('a member that sends no object list: no completion report, stale copies kept', async () => {
  const sim = await cluster([A, B, C]);
  try {
    sim.setEpoch([A, B, C, D]);
    sim.down.add(C); // still in the epoch, but it answers nothing
    sim.view.members = sim.view.members.filter((n) => n.port !== C);
    for (const p of [A, B, D]) sim.get(p).recovery.start(1, true);
    // what the others can fetch is fetched; then they wait to list C again
    const deadline = Date.now() + 10_000;
    while ([A, B, D].some((p) => phase(sim.get(p).recovery.state()).phase !== RECOVERY_PHASE.RECOVER
      || phase(sim.get(p).recovery.state()).finished !== phase(sim.get(p).recovery.state()).total)) {
      assert.ok(Date.now() < deadline, 'the reachable objects are recovered');
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const p of [A, B, D]) {
      assert.ok(sim.get(p).recovery.active, `${p} still recovering (C unlisted)`);
      assert.equal(sim.get(p).reported, [], `${p} reported nothing`);
    }
    const stale = [A, B].reduce((n, p) => n + sim.get(p).store.staleOids().length, 0);
    assert.ok(stale > 0, 'stale copies kept while C is unlisted');
  } finally {
    await sim.close();
  }
});

test('a recovery superseded by the next epoch ends; the new one completes for the new epoch', async () => {
  const sim = await cluster([A, B, C]);
  try {
    sim.setEpoch([A, B, C, D]);
    sim.startAll();
    sim.down.add(B);
    sim.setEpoch([A, C, D]);
    sim.startAll();
    await sim.settled();
    await placedAsRing(sim);
    for (const p of [A, C, D]) {
      assert.ok(sim.get(p).reported.includes(3), `${p} reported epoch 3`);
      assert.ok(!sim.get(p).reported.includes(2), `${p}: the superseded run reported nothing`);
    }
  } finally {
    await sim.close();
  }
});

test('a copy not owned in an epoch whose recovery was superseded is not taken for current when owned again', async () => {
  const sim = await cluster([A, B, C]);
  try {
    // an object A holds in epoch 1 and again in epoch 3 ([A, B, C] again), but
    // not in epoch 2 ([A, B, C, D]), whose holders include one of B, C
    const e2 = new RecoverySim();
    for (const p of [A, B, C, D]) await e2.add(p);
    e2.setEpoch([A, B, C, D]);
    const x = OIDS.find((oid) => sim.holders(oid).includes(A) && !e2.holders(oid).includes(A)
      && e2.holders(oid).some((p) => p === B || p === C))!;
    await e2.close();
    assert.ok(x !== undefined, 'such an object among OIDS');
    sim.setEpoch([A, B, C, D]);
    // written in epoch 2: A does not get it
    const newer = Buffer.alloc(SIM_OBJ_SIZE, 0xab);
    for (const p of sim.holders(x)) await sim.get(p).store.create({ oid: x, ec: undefined }, 0, newer, SIM_OBJ_SIZE, 2);
    sim.startAll();
    // D leaves before any recovery of epoch 2 got to set its copies aside
    sim.down.add(D);
    sim.setEpoch([A, B, C]);
    sim.startAll();
    await sim.settled();
    for (const p of sim.holders(x)) {
      const got = await sim.get(p).store.read({ oid: x, ec: undefined }, 0, SIM_OBJ_SIZE);
      assert.ok(got.equals(newer), `${p} holds the copy written in epoch 2`);
    }
  } finally {
    await sim.close();
  }
});

test('a peer op for an object not recovered yet recovers it first', async () => {
  const sim = await cluster([A, B, C]);
  try {
    sim.setEpoch([A, B, C, D]);
    const mine = OIDS.filter((oid) => sim.holders(oid).includes(D));
    const last = mine.at(-1)!;
    sim.startAll();
    // D's workers go in oid order: the last one it owns waits its turn, unless asked for
    await sim.get(D).recovery.beforeAccess(last);
    assert.ok(sim.get(D).store.exists({ oid: last, ec: undefined }), 'recovered on access');
    await sim.settled();
    await placedAsRing(sim);
  } finally {
    await sim.close();
  }
});

test.run();
