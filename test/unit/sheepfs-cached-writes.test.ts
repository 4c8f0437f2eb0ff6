/**
 * sheepfs's record of writes acknowledged from a sheep's object cache (issue
 * 13): fsync flushes on the sheep that hold them until a flush that began
 * after them succeeded; a broken connection to such a sheep counts a loss.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CachedWrites } from '../../sheepfs/cached-writes.js';

const A = { host: '127.0.0.1', port: 7101 };
const B = { host: '127.0.0.1', port: 7102 };
const targetsOf = (c: CachedWrites, vid: number) => c.begin(vid).map((t) => t.target);

test('a flush goes to every sheep that holds cached writes of the VDI', () => {
  const c = new CachedWrites();
  c.wrote(A, 1);
  c.wrote(B, 1);
  c.wrote(B, 2);
  assert.equal(targetsOf(c, 1), [A, B]);
  assert.equal(targetsOf(c, 2), [B]);
});

test('writes stay listed until a flush that began after them succeeded', () => {
  const c = new CachedWrites();
  c.wrote(A, 1);
  const first = c.begin(1);
  const second = c.begin(1);
  assert.equal(second.map((t) => t.target), [A], 'a concurrent fsync waits on the same sheep');
  c.wrote(A, 1); // a write after both flushes began
  c.flushed(first[0]!, 1);
  assert.equal(targetsOf(c, 1), [A], 'the later write is not covered');
  const third = c.begin(1);
  c.flushed(third[0]!, 1);
  assert.equal(targetsOf(c, 1), []);
});

test('writes cached on a sheep whose connection broke count a loss for each of their VDIs', () => {
  const c = new CachedWrites();
  c.wrote(A, 1);
  c.wrote(A, 2);
  c.broke(A);
  c.broke(B); // nothing there
  assert.equal([c.lossCount(1), c.lossCount(2), c.lossCount(3)], [1, 1, 0]);
  assert.equal(targetsOf(c, 1), [], 'nothing left to flush there');
  c.broke(A);
  assert.is(c.lossCount(1), 1, 'no new loss without new writes');
});

test('every break of a connection to a sheep is counted', () => {
  const c = new CachedWrites();
  assert.is(c.breakCount(A), 0);
  c.broke(A);
  c.broke(A);
  assert.is(c.breakCount(A), 2);
  assert.is(c.breakCount(B), 0);
});

test.run();
