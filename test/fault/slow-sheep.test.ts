/**
 * A slow sheep while writes are in flight (issue 13): one sheep is stopped
 * (SIGSTOP) for longer than every timeout while writers go through the other
 * sheep's gateways, then continued; the writes it held back must not land
 * over newer ones. The history checker reads every block through every sheep.
 * SHEEPDOG_TEST_SEED=N replays.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, slowSheep } from '../lib/schedule.js';

test('copies 2: a sheep stopped past every timeout mid-write, then continued', async () => {
  const r = await slowSheep('slow-c2', { copies: 2, journal: false });
  assert.ok(r.acks > 0);
  assert.is(r.violations.length, 0, describe(r.violations));
});

test.run();
