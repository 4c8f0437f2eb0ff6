import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fnv1a64, sdHash, sdHashNext, sdHashOid, vdiNameHash } from '../../shared/hash.js';
import { makeNode, nodeHashKey } from '../../shared/node.js';
import { autoVnodes, VnodeRing } from '../../shared/placement.js';

const hex = (v: bigint) => '0x' + v.toString(16).padStart(16, '0');

test('FNV-1a vectors of the spec', () => {
  assert.is(hex(fnv1a64(Buffer.from('test'))), '0xf9e6e6ef197c2b25');
  assert.is(vdiNameHash('test'), 0x7c2b25);
  assert.is(vdiNameHash('alice'), 0xa03907);
  assert.is(vdiNameHash('test1'), 0xfd32fc);
  assert.is(vdiNameHash('test2'), 0xfd3815);
});

test('sd_hash_oid vectors', () => {
  assert.is(hex(sdHashOid(0x80ee6a8400000000n)), '0x00bf80897a43c303');
  assert.is(hex(sdHashOid(0x00ee6a8400000000n)), '0xd4f82c1a3f42dee8');
  assert.is(hex(sdHashOid(0x00ee6a8400000001n)), '0x68ea7851d74476b4');
  assert.is(hex(sdHashOid(0x807c2b2500000000n)), '0x8b4b18c243befa1a');
  assert.is(hex(sdHashOid(0x007c2b2500000000n)), '0x387358f0fb5c1275');
  assert.is(hex(sdHashOid(0x007c2b2500000001n)), '0xed0c37b076d586ac');
});

test('vnode hashes of 127.0.0.1:7000 and :7001', () => {
  const base = sdHash(nodeHashKey(makeNode('127.0.0.1', 7000)));
  assert.is(hex(base), '0x9cb3d6dd0a4c0f9f');
  let h = base;
  const first = [];
  for (let i = 0; i < 3; i++) first.push(hex((h = sdHashNext(h))));
  assert.equal(first, ['0x3af2cba6e538cdf3', '0xfd38432fd111924b', '0x2ad2bef8f506e35d']);
  let h2 = sdHash(nodeHashKey(makeNode('127.0.0.1', 7001)));
  assert.is(hex(h2), '0x23fa0bfdea07a6d0');
  const second = [];
  for (let i = 0; i < 3; i++) second.push(hex((h2 = sdHashNext(h2))));
  assert.equal(second, ['0xafd60ff78e7a685c', '0x65c5ac1e06684dfd', '0x4b82b98774087315']);
});

const three = () => [0, 1, 2].map((z) => makeNode('127.0.0.1', 7000 + z, { zone: z }));

test('placement vectors: holders in copy order', () => {
  const ring = new VnodeRing(three());
  const ports = (oid: bigint) => ring.holders(oid, 3).map((n) => n.port);
  assert.equal(ports(0x807c2b2500000000n), [7002, 7001, 7000]);
  assert.equal(ports(0x007c2b2500000000n), [7001, 7000, 7002]);
  assert.equal(ports(0x007c2b2500000001n), [7000, 7001, 7002]);
});

test('placement matches the reference transcript (one.img objects)', () => {
  const ring = new VnodeRing(three());
  const ports = (oid: bigint, c = 3) => ring.holders(oid, c).map((n) => n.port);
  // dog vdi object location / track output of the original
  assert.equal(ports(0x8065a69c00000000n), [7001, 7002, 7000]);
  assert.equal(ports(0x0065a69a00000001n), [7000, 7002, 7001]);
  assert.equal(ports(0x0065a69c00000000n), [7002, 7000, 7001]);
  assert.equal(ports(0x80afa52400000000n, 2), [7002, 7000]);
  assert.equal(ports(0x8065a69a00000000n), [7001, 7002, 7000]);
  assert.equal(ports(0x0065a69a00000000n), [7000, 7002, 7001]);
  assert.equal(ports(0x00afa52400000000n, 2), [7002, 7000]);
  // the erasure-coded ec.img: strip i on the i-th holder
  assert.equal(ports(0x004c011400000000n), [7002, 7001, 7000]);
  assert.equal(ports(0x804c011400000000n), [7001, 7002, 7000]);
});

test('copies are capped by the number of zones, zones are distinct', () => {
  const sameZone = [0, 1, 2].map((i) => makeNode('127.0.0.1', 7000 + i));
  const ring = new VnodeRing(sameZone);
  assert.is(ring.nrZones, 1);
  assert.is(ring.holders(0x1234n, 3).length, 1);
  const five = [0, 1, 2, 3, 4].map((i) => makeNode('127.0.0.1', 7000 + i, { zone: i % 3 }));
  const r5 = new VnodeRing(five);
  for (let idx = 0; idx < 200; idx++) {
    const hs = r5.holders(BigInt(idx), 3);
    assert.is(new Set(hs.map((n) => n.zone)).size, 3);
  }
});

test('gateways (0 vnodes) never hold objects', () => {
  const nodes = [...three(), makeNode('127.0.0.1', 7003, { zone: 3, nrVnodes: 0 })];
  const ring = new VnodeRing(nodes);
  for (let idx = 0; idx < 100; idx++) {
    assert.not.ok(ring.holders(BigInt(idx), 3).some((n) => n.port === 7003));
  }
});

test('auto vnodes: 100/200/300 GiB give 64/128/192', () => {
  const G = 1024n ** 3n;
  const nodes = [100n, 200n, 300n].map((s, i) => makeNode('127.0.0.1', 7000 + i, { space: s * G }));
  assert.equal(autoVnodes(nodes).map((n) => n.nrVnodes), [64, 128, 192]);
  const gw = autoVnodes([...nodes, makeNode('127.0.0.1', 7009, { space: 0n })]);
  assert.is(gw[3]!.nrVnodes, 0);
});

test.run();
