/**
 * Power cuts while writes are in flight (issue 13): every sheep's directory
 * (store, journal, LevelDB metadata) is on its own power-cut file system; all
 * sheep are killed mid-write and each disk forgets what was not made durable;
 * after the restart and recovery the history checker reads every block
 * through every sheep. No -n. SHEEPDOG_TEST_SEED=N replays a schedule.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, powerCut } from '../lib/schedule.js';

test('copies 2 with -j: power cut of every disk mid-write (torn writes), restart', async () => {
  const r = await powerCut('powercut-c2-j', { copies: 2, journal: true }, 'torn');
  assert.ok(r.acks > 0);
  assert.is(r.violations.length, 0, describe(r.violations));
});

// (copies 3 and the other cut modes run in test/fault/soak.ts)
test.run();
