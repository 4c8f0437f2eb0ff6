/**
 * The payload codecs one program encodes and another decodes (shared/proto:
 * md info, recovery state and throttle, cache info, sd_stat, object lists):
 * round trips, the byte offsets of the original's structs, and the one
 * "grow the buffer on BUFFER_SMALL" loop (shared/grow-reply.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Reply } from '../../shared/client.js';
import { requestEpochLogs } from '../../shared/epoch-logs.js';
import { requestGrowing } from '../../shared/grow-reply.js';
import { makeNode } from '../../shared/node.js';
import { encodeEpochLog, epochLogStride } from '../../shared/proto/cluster-info.js';
import { CACHE_INFO_HEADER, CACHE_INFO_ROW, cacheInfoRowsFitting, decodeCacheInfo, encodeCacheInfo } from '../../shared/proto/cache-info.js';
import { SdHeader } from '../../shared/proto/header.js';
import { decodeMdInfo, encodeMdInfo, MD_INFO_SIZE } from '../../shared/proto/md-info.js';
import { decodeOidList, encodeOidList } from '../../shared/proto/obj-list.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import {
  decodeRecoveryState, decodeRecoveryThrottle, encodeRecoveryState, encodeRecoveryThrottle, RECOVERY_STATE_SIZE, RECOVERY_THROTTLE_SIZE,
} from '../../shared/proto/recovery.js';
import { SD_RES } from '../../shared/proto/results.js';
import { decodeStat, encodeStat, SD_STAT_FIELDS, SD_STAT_SIZE, type SdStat } from '../../shared/proto/stat.js';
import { decodeVdiAttr, encodeVdiAttr, SD_MAX_VDI_ATTR_KEY_LEN, VDI_ATTR_OFF } from '../../shared/proto/vdi-attr.js';
import { SD_ATTR_OBJ_SIZE } from '../../shared/oid.js';
import { Stats } from '../../sheep/stats.js';

test('md info: round trip, sd_md_info offsets, nr clamped, short reply', () => {
  const disks = [
    { free: 10n << 30n, used: 1234n, path: '/var/lib/sheepdog/d0' },
    { free: 0n, used: 0n, path: '/mnt/disk with spaces/é' },
  ];
  const b = encodeMdInfo(disks);
  assert.is(b.length, MD_INFO_SIZE);
  assert.is(b.readInt32LE(263680), 2, 'nr after the 64 disks');
  assert.is(b.readInt32LE(4120), 1, 'second disk at 4120 with its index');
  assert.is(b.readBigUInt64LE(8), 10n << 30n);
  assert.is(b.subarray(24, 24 + 20).toString(), '/var/lib/sheepdog/d0');
  assert.equal(decodeMdInfo(b), disks.map((d, idx) => ({ idx, ...d })));
  b.writeInt32LE(1000, 263680);
  assert.is(decodeMdInfo(b).length, 64);
  assert.equal(decodeMdInfo(Buffer.alloc(100)), []);
});

test('recovery state: round trip and recovery_state offsets; idle is all zero', () => {
  const st = { inRecovery: true, state: 2, finished: 7n, total: 1n << 40n };
  const b = encodeRecoveryState(st);
  assert.is(b.length, RECOVERY_STATE_SIZE);
  assert.is(b[0], 1);
  assert.is(b.readUInt32LE(4), 2);
  assert.is(b.readBigUInt64LE(8), 7n);
  assert.is(b.readBigUInt64LE(16), 1n << 40n);
  assert.equal(decodeRecoveryState(b), st);
  assert.ok(encodeRecoveryState({ inRecovery: false, state: 1, finished: 3n, total: 4n }).equals(Buffer.alloc(24)));
  assert.equal(decodeRecoveryState(Buffer.alloc(3)), { inRecovery: false, state: 0, finished: 0n, total: 0n });
});

test('recovery throttle: round trip, recovery_throttling offsets, the throttling flag, short payloads', () => {
  const b = encodeRecoveryThrottle(8, 2000n);
  assert.is(b.length, RECOVERY_THROTTLE_SIZE);
  assert.is(b.readUInt32LE(0), 8);
  assert.is(b.readBigUInt64LE(8), 2000n);
  assert.is(b[16], 1);
  assert.equal(decodeRecoveryThrottle(b), { max: 8, interval: 2000n, throttling: true });
  assert.is(encodeRecoveryThrottle(0, 0n)[16], 0);
  assert.is(encodeRecoveryThrottle(5, 0n)[16], 0);
  assert.is(decodeRecoveryThrottle(b.subarray(0, 20)), undefined, 'SET_RECOVERY wants the whole struct');
  assert.equal(decodeRecoveryThrottle(b.subarray(0, 16), 16), { max: 8, interval: 2000n, throttling: false });
});

test('cache info: round trip, row offsets, how many rows fit', () => {
  const info = {
    size: 1n << 32n, used: 12345n, directIo: true,
    rows: [{ vid: 0xabcdef, objects: 3, bytes: 3n << 22n, dirty: 4096n }, { vid: 1, objects: 0, bytes: 0n, dirty: 0n }],
  };
  const b = encodeCacheInfo(info);
  assert.is(b.length, CACHE_INFO_HEADER + 2 * CACHE_INFO_ROW);
  assert.is(b.readUInt32LE(16), 2);
  assert.is(b[20], 1);
  assert.is(b.readUInt32LE(24), 0xabcdef);
  assert.is(b.readBigUInt64LE(24 + 16), 4096n);
  assert.equal(decodeCacheInfo(b), info);
  assert.is(cacheInfoRowsFitting(CACHE_INFO_HEADER + 2 * CACHE_INFO_ROW), 2);
  assert.is(cacheInfoRowsFitting(CACHE_INFO_HEADER + 2 * CACHE_INFO_ROW - 1), 1);
  assert.is(cacheInfoRowsFitting(0), 0);
});

test('sd_stat: round trip in wire order; the sheep\'s counters encode to the same bytes', () => {
  const s = {} as SdStat;
  SD_STAT_FIELDS.forEach((f, i) => { s[f] = BigInt(i * 1000 + 1); });
  const b = encodeStat(s);
  assert.is(b.length, SD_STAT_SIZE);
  SD_STAT_FIELDS.forEach((f, i) => assert.is(b.readBigUInt64LE(8 * i), s[f], f));
  assert.equal(decodeStat(b), s);
  assert.is(decodeStat(b.subarray(0, 16)).gwayTotal, 0n, 'a short reply leaves counters 0');
  const stats = new Stats();
  stats.begin('gateway', SD_OP.READ_OBJ, 10);
  stats.end('gateway', 4096);
  const wire = decodeStat(stats.encode());
  assert.is(wire.gwayTotal, 1n);
  assert.is(wire.gwayRead, 1n);
  assert.is(wire.gwayActive, 0n);
  assert.is(wire.gwayRx + wire.gwayTx, 4106n);
});

test('vdi attr: round trip, sheepdog_vdi_attr offsets, a key cut to its field', () => {
  const value = Buffer.from('some value\0with a NUL');
  const b = encodeVdiAttr('vm disk', 'snap-1', 3, 'owner', value);
  assert.is(b.length, SD_ATTR_OBJ_SIZE);
  assert.is(b.subarray(256, 262).toString(), 'snap-1');
  assert.is(b.readUInt32LE(520), 3);
  assert.is(b.readUInt32LE(524), value.length);
  assert.is(b.subarray(528, 533).toString(), 'owner');
  assert.ok(b.subarray(784, 784 + value.length).equals(value));
  b.writeBigUInt64LE(1234n, VDI_ATTR_OFF.ctime); // the sheep fills the creation time in
  assert.equal(decodeVdiAttr(b), { name: 'vm disk', tag: 'snap-1', ctime: 1234n, snapId: 3, key: 'owner', value });
  const long = decodeVdiAttr(encodeVdiAttr('v', '', 0, 'k'.repeat(300)));
  assert.is(long.key.length, SD_MAX_VDI_ATTR_KEY_LEN - 1, 'a C string keeps its NUL');
  assert.is(long.value.length, 0);
});

test('object list: round trip; a partial id at the end is ignored', () => {
  const oids = [0n, 1n, (0x80n << 56n) | 5n, 0xffff_ffff_ffff_ffffn];
  const b = encodeOidList(oids);
  assert.is(b.length, 32);
  assert.equal(decodeOidList(b), oids);
  assert.equal(decodeOidList(Buffer.concat([b, Buffer.alloc(5)])), oids);
});

const reply = (result: number): Reply => {
  const hdr = SdHeader.responseTo(SdHeader.request(SD_OP.GET_OBJ_LIST), result, 1);
  return { hdr, data: Buffer.alloc(0) };
};

test('grow on BUFFER_SMALL: doubles up to the limit and stops there', async () => {
  const sent: number[] = [];
  const fits = 5000;
  const r = await requestGrowing(async (n) => { sent.push(n); return reply(n >= fits ? SD_RES.SUCCESS : SD_RES.BUFFER_SMALL); }, { first: 1000, max: 64_000 });
  assert.equal(sent, [1000, 2000, 4000, 8000]);
  assert.is(r.size, 8000);
  assert.is(r.reply!.hdr.result, SD_RES.SUCCESS);

  sent.length = 0;
  const never = await requestGrowing(async (n) => { sent.push(n); return reply(SD_RES.BUFFER_SMALL); }, { first: 1 << 20, max: 1 << 28, factor: 4 });
  assert.equal(sent, [1 << 20, 1 << 22, 1 << 24, 1 << 26, 1 << 28], 'the limit itself is asked for, nothing beyond');
  assert.is(never.reply!.hdr.result, SD_RES.BUFFER_SMALL, 'the caller sees the last answer');

  sent.length = 0;
  await requestGrowing(async (n) => { sent.push(n); return reply(n > 0 ? SD_RES.SUCCESS : SD_RES.BUFFER_SMALL); }, { first: 0, max: 8 });
  assert.equal(sent, [0, 1], 'a zero start grows too');

  const none = await requestGrowing(async () => undefined, { first: 1, max: 8 });
  assert.is(none.reply, undefined, 'no reply ends the loop');
});

test('epoch logs: room for more members until the logs fit, then decoded', async () => {
  const nodes = Array.from({ length: 5 }, (_, i) => makeNode('127.0.0.1', 7000 + i));
  const asked: number[] = [];
  const { reply: r, logs } = await requestEpochLogs(async (req) => {
    asked.push(req.clusterNodesNr);
    const nr = req.clusterNodesNr;
    if (nr < nodes.length) return { hdr: SdHeader.responseTo(req, SD_RES.BUFFER_SMALL, 2), data: Buffer.alloc(0) };
    assert.is(req.dataLength, 2 * epochLogStride(nr), 'room for the epochs asked');
    const data = Buffer.alloc(2 * epochLogStride(nr));
    for (const e of [2, 1]) {
      encodeEpochLog({ ctime: 5n, time: BigInt(e), epoch: e, disableRecovery: false, nrCopies: 3, copyPolicy: 0, flags: 0, drvName: 'local', nodes: nodes.slice(0, 3 + e) }, nr, data, (2 - e) * epochLogStride(nr));
    }
    return { hdr: SdHeader.responseTo(req, SD_RES.SUCCESS, 2), data };
  }, { epochs: 2, firstNodes: 1, maxNodes: 64 });
  assert.equal(asked, [1, 2, 4, 8]);
  assert.is(r!.hdr.result, SD_RES.SUCCESS);
  assert.equal(logs.map((l) => [l.epoch, l.nodes.length]), [[2, 5], [1, 4]]);
});

test.run();
