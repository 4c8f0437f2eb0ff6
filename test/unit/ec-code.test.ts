/**
 * The erasure code against the vectors of protocol.md §12.3 (computed from the
 * original's zfec matrix), and decoding from every choice of d surviving strips.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EC_STRIPE_SIZE, ecCode, encodeStripes, joinStripes, locateBadStrips, splitStripes, validEcGeometry,
} from '../../shared/ec/code.js';
import { GF_EXP, GF_INV, gfInvertMatrix, gfMatMul, gfMul } from '../../shared/ec/gf256.js';
import { dpToEcPolicy, ecPolicyToDp } from '../../shared/oid.js';

const hex = (a: Uint8Array) => Buffer.from(a).toString('hex').replace(/(..)(?!$)/g, '$1 ');

test('GF(2^8) of 0x11D: generator 2, inverses, products', () => {
  assert.is(GF_EXP[8], 0x1d);
  assert.is(GF_EXP[255], 1);
  assert.is(gfMul(0x80, 2), 0x1d);
  assert.is(gfMul(3, 7), 9);
  for (let a = 1; a < 256; a++) assert.is(gfMul(a, GF_INV[a]!), 1, `inverse of ${a}`);
  const seen = new Set<number>();
  for (let i = 0; i < 255; i++) seen.add(GF_EXP[i]!);
  assert.is(seen.size, 255, '2 generates the multiplicative group');
});

test('matrix inversion gives the identity', () => {
  const m = Uint8Array.from(randomBytes(64));
  m[0] = 1;
  let inv: Uint8Array;
  try { inv = gfInvertMatrix(m, 8); } catch { return; /* a random singular matrix: nothing to check */ }
  const id = gfMatMul(m, inv, 8, 8, 8);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) assert.is(id[r * 8 + c], r === c ? 1 : 0);
});

test('parity rows of the spec', () => {
  assert.is(hex(ecCode(2, 2).row(2)), '03 02');
  assert.is(hex(ecCode(2, 2).row(3)), '05 04');
  assert.is(hex(ecCode(4, 2).row(4)), '77 40 38 0e');
  assert.is(hex(ecCode(4, 2).row(5)), 'c7 a7 0d 6c');
  assert.is(hex(ecCode(8, 3).row(8)), '89 18 d0 7d 92 a4 f5 fe');
  assert.is(hex(ecCode(8, 3).row(9)), '36 f8 d0 ce 25 19 fb 16');
  assert.is(hex(ecCode(8, 3).row(10)), '5f cd a3 40 50 48 f6 9e');
  assert.is(hex(ecCode(16, 1).row(16)), 'c5 3b 1f 2d 4f aa 83 c2 61 69 77 a6 e2 5f 37 3a');
  // the top is the identity whatever p is, and parity rows do not depend on p
  assert.is(hex(ecCode(4, 1).row(4)), '77 40 38 0e');
  assert.is(hex(ecCode(4, 2).row(0)), '01 00 00 00');
});

const counting = (): Buffer => {
  const b = Buffer.alloc(EC_STRIPE_SIZE);
  for (let i = 0; i < b.length; i++) b[i] = i % 256;
  return b;
};

test('4:2 stripe of bytes i mod 256: the parity the original writes', () => {
  const strips = encodeStripes(counting(), ecCode(4, 2));
  assert.is(strips.length, 6);
  for (const s of strips) assert.is(s.length, 128);
  assert.is(hex(strips[4]!.subarray(0, 8)), 'd4 d5 d6 d7 d0 d1 d2 d3');
  assert.is(hex(strips[5]!.subarray(0, 8)), '7d 7c 7f 7e 79 78 7b 7a');
  assert.is(strips[1]![0], 128, 'data strip 1 starts at byte 128 of the stripe');
});

test('a stripe as the original stores it decodes from any 4 of its 6 strips', () => {
  // the original's strip files of this stripe: data strips as cut, parity as the spec gives
  const data = counting();
  const stored = encodeStripes(data, ecCode(4, 2));
  const code = ecCode(4, 2);
  for (let a = 0; a < 6; a++) {
    for (let b = a + 1; b < 6; b++) {
      const have = stored.map((s, i) => (i === a || i === b ? undefined : s));
      const all = code.reconstruct(have, [0, 1, 2, 3, 4, 5]);
      assert.ok(joinStripes(all.slice(0, 4), 4).equals(data), `without ${a} and ${b}`);
      assert.ok(Buffer.from(all[4]!).equals(stored[4]!), `parity 0 without ${a} and ${b}`);
      assert.ok(Buffer.from(all[5]!).equals(stored[5]!), `parity 1 without ${a} and ${b}`);
    }
  }
});

test('every geometry: lose any p strips (sampled), decode, re-encode', () => {
  for (const d of [2, 4, 8, 16]) {
    for (const p of [1, 2, 3, 15]) {
      const code = ecCode(d, p);
      const data = randomBytes(EC_STRIPE_SIZE * 9);
      const strips = encodeStripes(data, code);
      for (let trial = 0; trial < 12; trial++) {
        const lost = new Set<number>();
        while (lost.size < p) lost.add(Math.floor(Math.random() * (d + p)));
        const have = strips.map((s, i) => (lost.has(i) ? undefined : s));
        const want = [...Array(d + p).keys()];
        const got = code.reconstruct(have, want);
        for (const i of want) assert.ok(Buffer.from(got[i]!).equals(strips[i]!), `${d}:${p} strip ${i} lost ${[...lost]}`);
      }
    }
  }
});

test('split and join are inverse, strip j holds bytes j·w.. of each stripe', () => {
  const buf = randomBytes(EC_STRIPE_SIZE * 3);
  const s = splitStripes(buf, 8);
  assert.is(s[3]!.length, 3 * 64);
  assert.ok(s[3]!.subarray(64, 128).equals(buf.subarray(512 + 192, 512 + 256)));
  assert.ok(joinStripes(s, 8).equals(buf));
});

test('policy bytes and valid geometries', () => {
  assert.is(dpToEcPolicy(4, 2), 0x22);
  assert.is(dpToEcPolicy(2, 1), 0x11);
  assert.is(dpToEcPolicy(16, 15), 0x8f);
  assert.is(dpToEcPolicy(8, 3), 0x43);
  assert.equal(ecPolicyToDp(0x22), { d: 4, p: 2 });
  assert.ok(validEcGeometry(16, 15));
  assert.not.ok(validEcGeometry(3, 1));
  assert.not.ok(validEcGeometry(2, 0));
  assert.not.ok(validEcGeometry(4, 16));
});

test('locateBadStrips: agreeing strips give [], one corrupt strip of 4:2 is found, undecidable cases give undefined', () => {
  const code = ecCode(4, 2);
  const strips = encodeStripes(randomBytes(EC_STRIPE_SIZE * 16), code);
  assert.equal(locateBadStrips(code, strips), []);
  for (let bad = 0; bad < 6; bad++) {
    const have = strips.map((s) => Buffer.from(s));
    have[bad]![100] ^= 0x5a;
    assert.equal(locateBadStrips(code, have), [bad], `strip ${bad} corrupted`);
  }
  // one missing: 5 present tell a bad strip from nothing; 4 present cannot be compared
  const oneLost = strips.map((s, i) => (i === 2 ? undefined : s));
  assert.equal(locateBadStrips(code, oneLost), []);
  const lostAndBad = oneLost.map((s, i) => (s && i === 5 ? Buffer.from(s).fill(7, 0, 10) : s));
  assert.is(locateBadStrips(code, lostAndBad), undefined);
  assert.equal(locateBadStrips(code, strips.map((s, i) => (i < 2 ? undefined : s))), []);
  assert.is(locateBadStrips(code, strips.map((s, i) => (i < 3 ? undefined : s))), undefined);
  // 8:4 with two corrupt strips (⌊4/2⌋ = 2 can be located)
  const wide = ecCode(8, 4);
  const ws = encodeStripes(randomBytes(EC_STRIPE_SIZE * 4), wide).map((s) => Buffer.from(s));
  ws[1]![0] ^= 1;
  ws[10]![7] ^= 0xff;
  assert.equal(locateBadStrips(wide, ws), [1, 10]);
});

test.run();
