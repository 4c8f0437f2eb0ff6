/** The fault tests' history checker (test/lib/history.ts): its own logic. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BLOCK, decode, History, seededRandom, stamp } from '../lib/history.js';

test('a stamp decodes to its block and version; zeros are zeros', () => {
  assert.equal(decode(stamp(7, 3)), { kind: 'stamp', block: 7, version: 3 });
  assert.equal(decode(Buffer.alloc(BLOCK)), { kind: 'zero' });
  assert.not.equal(stamp(7, 3), stamp(7, 4));
  assert.not.equal(stamp(7, 3), stamp(8, 3));
});

test('a block torn at any 512-byte sector between two versions is torn', () => {
  const a = stamp(5, 1);
  const b = stamp(5, 2);
  for (let cut = 512; cut < BLOCK; cut += 512) {
    const torn = Buffer.concat([b.subarray(0, cut), a.subarray(cut)]);
    assert.is(decode(torn).kind, 'torn', `new sectors before ${cut}`);
    const half = Buffer.concat([b.subarray(0, cut), Buffer.alloc(BLOCK - cut)]);
    assert.is(decode(half).kind, 'torn', `new sectors then zeros at ${cut}`);
  }
  const flipped = Buffer.from(a);
  flipped[3000] ^= 1;
  assert.is(decode(flipped).kind, 'torn');
});

test('the rules: last ack or a later attempt; never older, torn, alien or unreadable', () => {
  const h = new History(4);
  assert.is(h.check(0, Buffer.alloc(BLOCK), 'x'), undefined, 'never written: zeros are fine');
  const v1 = h.begin(0);
  assert.is(h.check(0, Buffer.alloc(BLOCK), 'x'), undefined, 'in flight: zeros are fine');
  assert.is(h.check(0, v1.data, 'x'), undefined, 'in flight: the new version is fine');
  h.ack(0, v1.version);
  assert.is(h.check(0, Buffer.alloc(BLOCK), 'x')?.kind, 'lost', 'zeros after an ack');
  const v2 = h.begin(0);
  h.fail(0, v2.version);
  assert.is(h.check(0, v1.data, 'x'), undefined, 'the last ack');
  assert.is(h.check(0, v2.data, 'x'), undefined, 'a later failed attempt may have landed');
  const v3 = h.begin(0);
  h.ack(0, v3.version);
  assert.is(h.check(0, v2.data, 'x')?.kind, 'lost', 'older than the last ack');
  assert.is(h.check(0, v1.data, 'x')?.kind, 'lost');
  assert.is(h.check(0, stamp(0, 9), 'x')?.kind, 'alien', 'a version never tried');
  assert.is(h.check(0, stamp(1, 1), 'x')?.kind, 'alien', 'another block');
  assert.is(h.check(0, undefined, 'x')?.kind, 'unreadable');
  assert.throws(() => { h.begin(1); h.begin(1); }, /one writer per block/);
  h.poison(2);
  assert.not.ok(h.writable(2));
  assert.is(h.summary(), '4 writes tried, 2 acknowledged, 1 failed');
});

test('checkRange reads consecutive blocks', () => {
  const h = new History(3);
  for (let b = 0; b < 3; b++) h.ack(b, h.begin(b).version);
  const all = Buffer.concat([stamp(0, 1), stamp(1, 1), Buffer.alloc(BLOCK)]);
  const v = h.checkRange(0, all, 'sheep 0');
  assert.equal(v.map((x) => [x.block, x.kind]), [[2, 'lost']]);
  assert.is(h.checkRange(0, undefined, 'sheep 1').length, 3);
});

test('tornByFailedWrites accepts a torn block only when its latest attempt failed, and counts it', () => {
  const h = new History(3);
  const torn = (a: Buffer, b: Buffer) => Buffer.concat([a.subarray(0, 1024), b.subarray(1024)]);
  const v1 = h.begin(0);
  h.ack(0, v1.version);
  const v2 = h.begin(0);
  h.fail(0, v2.version);
  h.ack(1, h.begin(1).version);
  assert.is(h.check(0, torn(v2.data, v1.data), 'x')?.kind, 'torn', 'not without the switch');
  h.tornByFailedWrites = true;
  assert.is(h.check(0, torn(v2.data, v1.data), 'x'), undefined, 'the failed write tore it');
  assert.is(h.check(1, torn(stamp(1, 2), stamp(1, 1)), 'x')?.kind, 'torn', 'the latest attempt was acknowledged');
  h.begin(2);
  assert.is(h.check(2, torn(stamp(2, 1), Buffer.alloc(BLOCK)), 'x')?.kind, 'torn', 'an attempt still open');
  assert.equal([...h.tornByFailure], [0]);
  assert.match(h.summary(), /1 blocks torn by their failed write/);
});

test('the seeded random source replays', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  for (let i = 0; i < 10; i++) assert.is(a(), b());
});

test.run();
