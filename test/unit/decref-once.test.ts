/**
 * DECREF with a lost reply (issue 13): a holder applied a DECREF_PEER but its
 * answer never reached the gateway, which sends it again. The retry carries the
 * first attempt's token and must not decrement the ledger a second time (a
 * count that reaches zero early frees a data object still in use), also when
 * the holder restarted in between (the tokens are kept in its metadata).
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SdError } from '../../shared/errors.js';
import { makeNode, type SdNode } from '../../shared/node.js';
import { SD_LEDGER_OBJ_SIZE } from '../../shared/oid.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Gateway } from '../../sheep/gateway.js';
import { Logger } from '../../sheep/log.js';
import { peerOps } from '../../sheep/ops/peer.js';
import type { DirectOpDef } from '../../sheep/ops/types.js';
import type { Sheep } from '../../sheep/sheep.js';
import type { ObjectRef } from '../../sheep/store/store.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const LEDGER = 0x0800_0001_0000_0002n;
const [A, B] = [1, 2].map((i) => makeNode(`127.0.0.${i}`, 7100 + i)) as [SdNode, SdNode];

/** What a holder keeps across a restart: its objects and its metadata's DECREF tokens. */
function disk() {
  const files = new Map<bigint, Buffer>();
  const ledger = Buffer.alloc(SD_LEDGER_OBJ_SIZE);
  ledger.writeUInt32LE(3, 0); // three references of generation 0
  files.set(LEDGER, ledger);
  return { files, tokens: new Map<bigint, number>() };
}

/** A run of a holder on `d`: an in-memory store with the ledger object, through the real DECREF_PEER handler. */
function holder(self: SdNode, epoch: number, d = disk()) {
  const { files, tokens } = d;
  const store = {
    exists: (r: ObjectRef) => files.has(r.oid),
    read: async (r: ObjectRef, off: number, len: number) => Buffer.from(files.get(r.oid)!.subarray(off, off + len)),
    create: async (r: ObjectRef, off: number, data: Buffer, size: number) => {
      const b = Buffer.alloc(size);
      data.copy(b, off);
      files.set(r.oid, b);
    },
    remove: async (r: ObjectRef) => { files.delete(r.oid); },
  };
  const meta = {
    putDecrefToken: async (t: bigint, at: number) => { tokens.set(t, at); },
    hasDecrefToken: async (t: bigint) => tokens.has(t),
    delDecrefToken: async (t: bigint) => { tokens.delete(t); },
    pruneDecrefTokens: async (before: number) => { for (const [t, at] of tokens) if (at < before) tokens.delete(t); },
  };
  const group = { epoch, waitForEpoch: async () => {} };
  const s = {
    group, log, self, store, meta,
    recovery: { entered: () => {}, beforeAccess: async () => {} },
    gateway: { copies: () => 2, isFirstHolder: () => false, remove: async () => {} },
  } as unknown as Sheep;
  const apply = async (hdr: SdHeader) => {
    const rsp = SdHeader.responseTo(hdr, SD_RES.SUCCESS, epoch);
    await (peerOps[SD_OP.DECREF_PEER] as DirectOpDef).handle(s, hdr, undefined, rsp);
  };
  return { apply, count: () => files.get(LEDGER)?.readUInt32LE(0) ?? 0, group, disk: d };
}

/** A gateway whose peer requests go to the holders' real handlers, with the first reply of `lossy` lost. */
function gatewayTo(holders: Map<SdNode, ReturnType<typeof holder>>, lossy: SdNode) {
  const group = { epoch: 5, ring: { isEmpty: false, holders: () => [...holders.keys()] }, waitForEpoch: async () => {} };
  const s = { group, log, stopping: false, self: makeNode('127.0.0.9', 7199), vdis: new Map() } as unknown as Sheep;
  const gw = new Gateway(s);
  let lose = true;
  gw.peer = async (n, h) => {
    await holders.get(n)!.apply(new SdHeader(Buffer.from(h.buf)));
    if (n === lossy && lose) {
      lose = false;
      throw new SdError(SD_RES.NETWORK_ERROR, 'the reply was lost');
    }
    return { hdr: h, data: Buffer.alloc(0) };
  };
  return gw;
}

test('a DECREF retried after its reply was lost is applied once', async () => {
  const holders = new Map([[A, holder(A, 5)], [B, holder(B, 5)]]);
  await gatewayTo(holders, B).decref(LEDGER, 0, 0, 2);
  assert.is(holders.get(A)!.count(), 2, 'A: one reference fewer');
  assert.is(holders.get(B)!.count(), 2, 'B: one reference fewer, not two');
});

test('a holder that restarted after applying it does not apply the retry', async () => {
  const before = holder(B, 7);
  const hdr = SdHeader.request(SD_OP.DECREF_PEER);
  hdr.epoch = 7;
  hdr.refOid = LEDGER;
  hdr.refToken = 0x1234n;
  await before.apply(hdr);
  assert.is(before.count(), 2);
  // killed before its answer left; back on the same disk, at a later epoch
  const after = holder(B, 9, before.disk);
  hdr.epoch = 9;
  await after.apply(hdr);
  assert.is(after.count(), 2, 'applied once');
  hdr.refToken = 0x1235n;
  await after.apply(hdr);
  assert.is(after.count(), 1, 'another DECREF is applied');
});

test('a DECREF without a token (an older gateway) is applied as before', async () => {
  const b = holder(B, 7);
  const hdr = SdHeader.request(SD_OP.DECREF_PEER);
  hdr.epoch = 7;
  hdr.refOid = LEDGER;
  await b.apply(hdr);
  await b.apply(hdr);
  assert.is(b.count(), 1);
});

test.run();
