/**
 * sheepfs's record of writes acknowledged from a sheep's object cache (issue
 * 13): fsync flushes on the sheep that holds them, and reports EIO once when
 * that sheep's connection broke before they were flushed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CachedWrites } from '../../sheepfs/cached-writes.js';

const A = { host: '127.0.0.1', port: 7101 };
const B = { host: '127.0.0.1', port: 7102 };

test('a flush goes to every sheep that holds cached writes of the VDI, once', () => {
  const c = new CachedWrites();
  c.wrote(A, 1);
  c.wrote(B, 1);
  c.wrote(B, 2);
  assert.equal(c.take(1), { targets: [A, B], lost: false });
  assert.equal(c.take(1), { targets: [], lost: false }, 'flushed');
  assert.equal(c.take(2), { targets: [B], lost: false });
});

test('writes cached on a sheep whose connection broke are reported lost, once', () => {
  const c = new CachedWrites();
  c.wrote(A, 1);
  c.wrote(A, 2);
  c.broke(A);
  c.broke(B); // nothing there
  assert.equal(c.take(1), { targets: [], lost: true });
  assert.equal(c.take(1), { targets: [], lost: false }, 'reported once');
  assert.equal(c.take(2), { targets: [], lost: true }, 'every VDI that had writes there');
});

test('every break of a connection to a sheep is counted', () => {
  const c = new CachedWrites();
  assert.is(c.breakCount(A), 0);
  c.broke(A);
  c.broke(A);
  assert.is(c.breakCount(A), 2);
  assert.is(c.breakCount(B), 0);
});

test('a failed flush gives its sheep back', () => {
  const c = new CachedWrites();
  c.wrote(A, 1);
  assert.equal(c.take(1).targets, [A]);
  c.unflushed(A, 1);
  c.broke(A);
  assert.equal(c.take(1), { targets: [], lost: true });
});

test.run();
