/**
 * A network partition under ZooKeeper with writers on both sides, copies 3
 * and copies 2 (test/lib/partition.ts says what is checked).
 * SHEEPDOG_TEST_SEED=N replays. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN);
 * skipped with a message otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { netnsMissing } from '../lib/netns.js';
import { partitioned } from '../lib/partition.js';
import { describe } from '../lib/schedule.js';

const missing = netnsMissing();

if (missing) {
  console.log(`skip: ${missing}`);
  test.skip('a partition under ZooKeeper with writers on both sides', () => {});
} else {
  for (const copies of [3, 2]) {
    test(`copies ${copies}: a partition (2 of 3 ZooKeeper servers on one side) with writers on both sides, then healed`, async () => {
      const r = await partitioned(`partition-c${copies}`, copies);
      assert.ok(r.acks > 0, 'writes were acknowledged');
      assert.is(r.violations.length, 0, describe(r.violations));
    });
  }
}

test.run();
