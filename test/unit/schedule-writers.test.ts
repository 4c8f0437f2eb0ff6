/**
 * The fault schedules' writers (test/lib/schedule.ts) are stopped when their
 * schedule throws: stopWriters(history) stops every writer of that history
 * still running, so that a failed schedule neither writes on into the next
 * one (the soak) nor keeps its process alive to the time bound.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { History } from '../lib/history.js';
import { startWriters, stopWriters, type BlockWriter } from '../lib/schedule.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('stopWriters stops the writers a schedule left running, and no attempt starts after it', async () => {
  const h = new History(64);
  let attempts = 0;
  const write: BlockWriter = async () => {
    attempts++;
    await tick(2);
    return true;
  };
  startWriters(h, Math.random, 4, write); // never stopped by its schedule: it threw
  await tick(30);
  assert.ok(attempts > 0);
  await stopWriters(h);
  const after = attempts;
  await tick(30);
  assert.is(attempts, after);
  assert.is(h.tries, h.acks, 'every attempt begun was answered');
});

test('stopWriters after the writers were stopped, or of a history without writers, is harmless', async () => {
  const h = new History(8);
  const w = startWriters(h, Math.random, 2, async () => { await tick(1); return true; });
  await w.stop();
  await stopWriters(h);
  await stopWriters(new History(8));
});

test.run();
