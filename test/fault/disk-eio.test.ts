/**
 * A failing disk while writes are in flight (issue 13): one of sheep 0's two
 * md disks sits on a power-cut file system whose fault switch makes every
 * operation on it answer EIO mid-write. The sheep takes the disk out and
 * recovery brings its objects back from the other copies; the history checker
 * then reads every block through every sheep. SHEEPDOG_TEST_SEED=N replays.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, diskEio } from '../lib/schedule.js';

test('copies 2: one md disk of a sheep answers EIO mid-write', async () => {
  const r = await diskEio('disk-eio-c2', { copies: 2, journal: false });
  assert.ok(r.acks > 0);
  assert.is(r.violations.length, 0, describe(r.violations));
});

test.run();
