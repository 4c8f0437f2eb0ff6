/**
 * sheepfs as the writer under fault schedules (issue 13): four writers write
 * stamped 4 KiB blocks into a sheepfs volume (each block by its own dd with
 * O_DIRECT and fsync; sheepfs is mounted on sheep 0 and runs in its own
 * process) while sheep are killed -9 or stopped, always including sheep 0,
 * the one sheepfs talks to, or every sheep is killed and its disk power-cut;
 * afterwards the history checker reads every block through every sheep.
 * Sheep run without -n.
 * SHEEPDOG_TEST_SEED=N replays a schedule.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, killCopiesMinusOne, powerCut, slowSheep, type ScheduleResult } from '../lib/schedule.js';

function check(r: ScheduleResult): void {
  assert.ok(r.acks > 0, 'writes were acknowledged');
  assert.is(r.violations.length, 0, describe(r.violations));
}

test('sheepfs, copies 3: kill -9 of its own sheep and another mid-write (sheepfs fails over), then back', async () => {
  check(await killCopiesMinusOne('sheepfs-kill2-c3', { copies: 3, journal: false, sheepfs: true }));
});

test('sheepfs, copies 2: its own sheep stopped past every timeout mid-write, then continued', async () => {
  check(await slowSheep('sheepfs-slow-c2', { copies: 2, journal: false, sheepfs: true }));
});

test('sheepfs, copies 2 with -j: every sheep killed -9 mid-write and power-cut (random part forgotten), then restarted', async () => {
  check(await powerCut('sheepfs-powercut-random-c2-j', { copies: 2, journal: true, sheepfs: true }, 'random'));
});

test.run();
