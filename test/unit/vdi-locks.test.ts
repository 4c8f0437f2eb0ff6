/** VDI lock bookkeeping (spec §8.7): shared-lock participants and a departing node. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeNode } from '../../shared/node.js';
import { LOCK_STATE, SHARED_LOCK_STATE } from '../../shared/proto/vdi-state.js';
import { VdiTable } from '../../sheep/vdi-table.js';

const a = makeNode('127.0.0.1', 7000);
const b = makeNode('127.0.0.1', 7001);
const info = { nrCopies: 3, copyPolicy: 0, blockSizeShift: 22, parentVid: 0 };
/** The full state of a vid, as GET_VDI_COPIES sends it. */
const state = (t: VdiTable, vid: number) => t.all().find((s) => s.vid === vid)!;

test('a departing node leaves every shared lock; normal locks stay with their owner', async () => {
  const t = new VdiTable(undefined);
  await t.add(0x10, info, 0, true);
  await t.add(0x20, info, 0, true);
  t.lock(0x10, 1, a);
  t.lock(0x10, 1, b);
  t.lock(0x20, 0, a);
  assert.equal(state(t, 0x10).participants.map((p) => [p.node.port, p.state]),
    [[7000, SHARED_LOCK_STATE.MODIFIED], [7001, SHARED_LOCK_STATE.INVALIDATED]]);
  t.dropParticipant(a);
  assert.equal(state(t, 0x10).participants.map((p) => p.node.port), [7001]);
  assert.is(state(t, 0x10).lockState, LOCK_STATE.SHARED);
  assert.is(state(t, 0x20).lockState, LOCK_STATE.LOCKED, 'a normal lock is not released by a departure');
  t.dropParticipant(b);
  assert.is(state(t, 0x10).lockState, LOCK_STATE.UNLOCKED, 'no participant left: unlocked');
});

test.run();
