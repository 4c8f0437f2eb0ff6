/**
 * The ring keeps hashes as 32-bit halves and sorts them by radix for speed at
 * thousands of nodes; these tests hold it to the plain BigInt definition.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fnv1aU64, FNV1A_64_BASIS, sdHash, sdHashNext, sdHashOid } from '../../shared/hash.js';
import { makeNode, nodeHashKey, type SdNode } from '../../shared/node.js';
import { hashOrder, VnodeRing } from '../../shared/placement.js';

/** A deterministic 64-bit sequence (splitmix64) so failures reproduce. */
function* splitmix(seed: bigint): Generator<bigint> {
  const M = (1n << 64n) - 1n;
  let s = seed;
  for (;;) {
    s = (s + 0x9e3779b97f4a7c15n) & M;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    yield z ^ (z >> 31n);
  }
}

/** The ring as the original defines it: every vnode hash, sorted, walked zone by zone. */
function referenceHolders(nodes: readonly SdNode[], oid: bigint, copies: number): number[] {
  const members = nodes.filter((n) => n.nrVnodes > 0);
  const vnodes: { h: bigint; owner: number }[] = [];
  members.forEach((n, owner) => {
    let h = sdHash(nodeHashKey(n));
    for (let k = 0; k < n.nrVnodes; k++) vnodes.push({ h: (h = sdHashNext(h)), owner });
  });
  vnodes.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  const h = fnv1aU64(fnv1aU64(oid, FNV1A_64_BASIS), fnv1aU64(oid, FNV1A_64_BASIS));
  let at = vnodes.findIndex((v) => v.h >= h);
  if (at < 0) at = 0;
  const want = Math.min(copies, new Set(members.map((n) => n.zone)).size);
  const picked: number[] = [];
  const zones = new Set<number>();
  for (let step = 0; picked.length < want; step++) {
    const v = vnodes[(at + step) % vnodes.length]!;
    const zone = members[v.owner]!.zone;
    if (zones.has(zone)) continue;
    zones.add(zone);
    picked.push(v.owner);
  }
  return picked;
}

test('sdHashOid on 32-bit halves equals the BigInt definition', () => {
  const rnd = splitmix(1n);
  const edge = [0n, 1n, 0xffffffffn, 0x100000000n, (1n << 64n) - 1n, 0x8000000000000000n];
  for (const oid of [...edge, ...Array.from({ length: 2000 }, () => rnd.next().value as bigint)]) {
    const h = fnv1aU64(oid, FNV1A_64_BASIS);
    assert.is(sdHashOid(oid), fnv1aU64(h, h), `oid ${oid.toString(16)}`);
  }
});

test('hashOrder sorts 64-bit values and keeps equal ones in insertion order', () => {
  const rnd = splitmix(2n);
  const vals: bigint[] = Array.from({ length: 5000 }, () => rnd.next().value as bigint);
  // duplicates and values that differ only in the high or only in the low half
  vals.push(vals[3]!, vals[3]!, vals[10]! ^ (1n << 40n), vals[10]! ^ 1n, 0n, (1n << 64n) - 1n);
  const hi = Uint32Array.from(vals, (v) => Number(v >> 32n));
  const lo = Uint32Array.from(vals, (v) => Number(v & 0xffffffffn));
  const got = Array.from(hashOrder(hi, lo));
  const want = vals.map((v, i) => ({ v, i })).sort((a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : a.i - b.i)).map((e) => e.i);
  assert.equal(got, want);
});

test('the ring places like the reference: zones, mixed vnode counts, gateways', () => {
  const rnd = splitmix(3n);
  const nodes: SdNode[] = [];
  for (let i = 0; i < 40; i++) {
    nodes.push(makeNode(`10.0.${i >> 4}.${i & 15}`, 7000 + (i % 3), { zone: i % 7, nrVnodes: i % 9 === 0 ? 0 : 16 + (i % 5) * 40 }));
  }
  const ring = new VnodeRing(nodes);
  for (let k = 0; k < 300; k++) {
    const oid = rnd.next().value as bigint;
    for (const copies of [1, 3, 5]) assert.equal(ring.holderIndexes(oid, copies), referenceHolders(nodes, oid, copies));
  }
});

test('arcs of the ring cover the hash space once', () => {
  const ring = new VnodeRing([0, 1, 2, 3].map((i) => makeNode('127.0.0.1', 7000 + i, { zone: i, nrVnodes: 50 })));
  let sum = 0;
  for (let v = 0; v < ring.size; v++) {
    const f = ring.arcFraction(v);
    assert.ok(f >= 0 && f <= 1);
    sum += f;
  }
  assert.ok(Math.abs(sum - 1) < 1e-9, `sum ${sum}`);
  for (let v = 1; v < ring.size; v++) assert.ok(ring.vnodeHash(v - 1) <= ring.vnodeHash(v));
  assert.is(new VnodeRing([makeNode('127.0.0.1', 7000, { nrVnodes: 1 })]).arcFraction(0), 1);
});

test.run();
