/**
 * Fault schedules while writes are in flight, against the history checker
 * (issue 13): four writers stream stamped 4 KiB blocks through `dog vdi write`
 * (to random sheep) while sheep are killed; afterwards every block, read
 * through every sheep, must hold its last acknowledged version or a later
 * attempted one. Sheep run without -n (and with -j where named). Each schedule
 * prints its seed; SHEEPDOG_TEST_SEED=N replays one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, killAll, killCopiesMinusOne, type ScheduleResult } from '../lib/schedule.js';

/** SHEEPDOG_TEST_ONLY=NAME runs one schedule (with SHEEPDOG_TEST_SEED, a replay). */
function schedule(title: string, name: string, fn: (name: string) => Promise<ScheduleResult>): void {
  const only = process.env.SHEEPDOG_TEST_ONLY;
  if (only && only !== name) test.skip(title, () => {});
  else {
    test(title, async () => {
      const r = await fn(name);
      assert.ok(r.acks > 0, 'writes were acknowledged');
      assert.is(r.violations.length, 0, describe(r.violations));
    });
  }
}

// the short in-suite set; test/fault/soak.ts runs every combination, at random
schedule('copies 3: kill -9 of 2 sheep mid-write, then back', 'kill2-c3', (n) => killCopiesMinusOne(n, { copies: 3, journal: false }));
schedule('copies 2 with -j: kill -9 of every sheep mid-write, then restart', 'killall-c2-j', (n) => killAll(n, { copies: 2, journal: true }));

test.run();
