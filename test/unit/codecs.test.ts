import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixed } from '../../shared/cformat.js';
import { getopt } from '../../shared/getopt.js';
import { countDataObjs, decodeInodeHeader, encodeInodeHeader, type InodeHeader } from '../../shared/inode.js';
import {
  addrToString, decodeNode, defaultZone, encodeAddr, encodeNode, makeNode, nodeIdString,
} from '../../shared/node.js';
import { dataOidToIdx, oidHex, oidToVid, vidToDataOid, vidToVdiOid, ecPolicyToDp, dpToEcPolicy } from '../../shared/oid.js';
import { decodeClusterInfo, encodeClusterInfo, CLUSTER_INFO_SIZE } from '../../shared/proto/cluster-info.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { decodeVdiState, encodeVdiState, VDI_STATE_SIZE } from '../../shared/proto/vdi-state.js';
import { formatSize, parseSize } from '../../shared/size.js';

const hexdump = (b: Buffer) => b.toString('hex').match(/.{2}/g)!.join(' ');

test('NEW_VDI request header: the spec worked example, byte for byte', () => {
  const h = SdHeader.request(SD_OP.NEW_VDI, SD_FLAG.CMD_WRITE, 256);
  h.vdiSize = 10n * 1024n ** 3n;
  assert.is(hexdump(h.buf.subarray(0, 16)), '02 11 01 00 00 00 00 00 00 00 00 00 00 01 00 00');
  assert.is(hexdump(h.buf.subarray(16, 32)), '00 00 00 80 02 00 00 00 00 00 00 00 00 00 00 00');
  assert.is(hexdump(h.buf.subarray(32, 48)), '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
});

test('NEW_VDI response header: the spec worked example', () => {
  const req = SdHeader.request(SD_OP.NEW_VDI, SD_FLAG.CMD_WRITE, 256);
  const r = SdHeader.responseTo(req, 0, 1);
  r.rspVdiId = 0x7c2b25;
  r.rspVdiCopies = 3;
  r.rspVdiBlockSizeShift = 22;
  assert.is(hexdump(r.buf.subarray(0, 16)), '00 11 00 00 01 00 00 00 00 00 00 00 00 00 00 00');
  assert.is(hexdump(r.buf.subarray(16, 32)), '00 00 00 00 00 00 00 00 25 2b 7c 00 00 00 00 00');
  assert.is(hexdump(r.buf.subarray(32, 48)), '03 16 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
});

test('object request fields sit at their offsets', () => {
  const h = SdHeader.request(SD_OP.READ_OBJ, 0, 4096);
  h.objOid = 0x807c2b2500000000n;
  h.objCowOid = 0x0011223344556677n;
  h.objCopies = 3;
  h.objCopyPolicy = 0x22;
  h.objEcIndex = 5;
  h.objTgtEpoch = 9;
  h.objOffset = 0x12345;
  const b = h.buf;
  assert.is(b.readBigUInt64LE(16), 0x807c2b2500000000n);
  assert.is(b.readBigUInt64LE(24), 0x0011223344556677n);
  assert.equal([b[32], b[33], b[34]], [3, 0x22, 5]);
  assert.is(b.readUInt32LE(36), 9);
  assert.is(b.readUInt32LE(40), 0x12345);
  assert.is(h.protoVer, 0x02);
  assert.is(SdHeader.request(SD_OP.GET_NODE_LIST).protoVer, 0x0a);
});

test('oids', () => {
  assert.is(oidHex(vidToVdiOid(0x7c2b25)), '807c2b2500000000');
  assert.is(oidHex(vidToDataOid(0x7c2b25, 3)), '007c2b2500000003');
  assert.is(oidToVid(0x807c2b2500000003n), 0x7c2b25);
  assert.is(dataOidToIdx(0x007c2b25ffffffffn), 0xffffffff);
  assert.equal(ecPolicyToDp(0x22), { d: 4, p: 2 });
  assert.is(dpToEcPolicy(16, 15), 0x8f);
  assert.is(dpToEcPolicy(2, 1), 0x11);
});

test('inode header fields at their offsets', () => {
  const h: InodeHeader = {
    name: 'test', tag: 'snap1', createTime: 0x1122334455667788n, snapCtime: 5n, vmClockNsec: 6n,
    vdiSize: 10 * 1024 ** 3, vmStateSize: 7n, copyPolicy: 0x22, storePolicy: 1, nrCopies: 6,
    blockSizeShift: 22, snapId: 2, vdiId: 0x7c2b26, parentVdiId: 0x7c2b25, btreeCounter: 9,
  };
  const b = encodeInodeHeader(h);
  assert.is(b.length, 4664);
  assert.is(b.subarray(0, 5).toString('latin1'), 'test\0');
  assert.is(b.subarray(256, 262).toString('latin1'), 'snap1\0');
  assert.is(b.readBigUInt64LE(512), 0x1122334455667788n);
  assert.is(b.readBigUInt64LE(536), 10n * 1024n ** 3n);
  assert.equal([b[552], b[553], b[554], b[555]], [0x22, 1, 6, 22]);
  assert.is(b.readUInt32LE(556), 2);
  assert.is(b.readUInt32LE(560), 0x7c2b26);
  assert.is(b.readUInt32LE(564), 0x7c2b25);
  assert.is(b.readUInt32LE(568), 9);
  assert.equal(decodeInodeHeader(b), h);
  assert.is(countDataObjs(h), 2560);
  assert.is(countDataObjs({ vdiSize: 1, blockSizeShift: 22 }), 1);
});

test('sd_node codec and addresses', () => {
  const n = makeNode('127.0.0.1', 7000, { zone: 2, nrVnodes: 128, space: 12345n });
  const b = encodeNode(n);
  assert.is(b.length, 80);
  assert.is(hexdump(b.subarray(24, 42)), '00 00 00 00 00 00 00 00 00 00 00 00 7f 00 00 01 58 1b');
  assert.is(b.readUInt16LE(64), 128);
  assert.is(b.readUInt32LE(68), 2);
  assert.is(b.readBigUInt64LE(72), 12345n);
  assert.equal(decodeNode(b), n);
  assert.is(defaultZone(encodeAddr('127.0.0.1')), 16777343);
  assert.is(addrToString(encodeAddr('::1')), '::1');
  assert.is(addrToString(encodeAddr('fe80::1:2')), 'fe80::1:2');
  assert.is(addrToString(encodeAddr('::ffff:10.0.0.1')), '10.0.0.1');
  assert.is(nodeIdString(n), 'IPv4 ip:127.0.0.1 port:7000');
});

test('cluster_info round trip', () => {
  const ci = {
    protoVer: 0x0a, disableRecovery: false, epoch: 3, ctime: 99n, flags: 4, nrCopies: 3, copyPolicy: 0,
    status: 1, blockSizeShift: 22, defaultStore: 'plain',
    nodes: [makeNode('127.0.0.1', 7000, { zone: 0 }), makeNode('127.0.0.1', 7001, { zone: 1 })],
  };
  const full = encodeClusterInfo(ci, true);
  assert.is(full.length, CLUSTER_INFO_SIZE);
  assert.is(full[20], 1);
  assert.is(full.subarray(25, 31).toString('latin1'), 'plain\0');
  assert.equal(decodeClusterInfo(full), ci);
  assert.equal(decodeClusterInfo(encodeClusterInfo(ci)), ci);
});

test('vdi_state round trip', () => {
  const s = {
    vid: 0x7c2b25, nrCopies: 3, snapshot: true, deleted: false, copyPolicy: 0, blockSizeShift: 22,
    parentVid: 7, lockState: 1, lockOwner: null, participants: [],
  };
  const b = Buffer.alloc(VDI_STATE_SIZE * 2);
  encodeVdiState(s, b, VDI_STATE_SIZE);
  assert.equal(decodeVdiState(b, VDI_STATE_SIZE), s);
});

test('sizes print as dog prints them', () => {
  assert.is(formatSize(0), '0.0 MB');
  assert.is(formatSize(4 * 1024 * 1024), '4.0 MB');
  assert.is(formatSize(12 * 1024 * 1024), '12 MB');
  assert.is(formatSize(1024 ** 3), '1.0 GB');
  assert.is(formatSize(2 ** 54), '16 PB');
  assert.is(formatSize(4 * 1024 ** 4), '4.0 TB');
  assert.is(formatSize(393 * 1024 * 1024 + 1), '393 MB');
  assert.is(formatSize(262144), '0.2 MB'); // 0.25 rounds to even as printf does
  assert.is(formatSize(10.5 * 1048576), '10 MB');
  assert.is(formatSize(11.5 * 1048576), '12 MB');
  assert.is(formatSize(4095, true), '4095');
});

test('size arguments parse as dog parses them', () => {
  assert.is(parseSize('10G'), 10 * 1024 ** 3);
  assert.is(parseSize('1.5G'), 1.5 * 1024 ** 3);
  assert.is(parseSize('1024'), 1024);
  assert.is(parseSize('1k'), 1024);
  assert.is(parseSize('4M'), 4194304);
  assert.is(parseSize('0x10'), 16);
  assert.is(parseSize('1e3'), 1000);
  assert.is(parseSize('512b'), 512);
  assert.is(parseSize('0'), 0);
  for (const bad of ['10X', 'abc', '1KB', '1e', '', 'G', '-1G', 'inf', 'nan']) {
    assert.is(parseSize(bad), undefined, bad);
  }
});

test('printf %.Nf rounding', () => {
  assert.is(fixed(0.25, 1), '0.2');
  assert.is(fixed(0.35, 1), '0.3'); // 0.35 is 0.34999... in binary
  assert.is(fixed(2.5, 0), '2');
  assert.is(fixed(3.5, 0), '4');
  assert.is(fixed(45, 1), '45.0');
  assert.is(fixed(99.95, 1), '100.0');
  assert.is(fixed(0, 3), '0.000');
});

const OPTS = [
  { short: 'a', long: 'address', hasArg: true },
  { short: 'p', long: 'port', hasArg: true },
  { short: 'r', long: 'raw', hasArg: false },
  { short: 'c', long: 'copies', hasArg: true },
  { short: 'C', long: 'cow', hasArg: false },
];

test('getopt: permutation, clusters, long prefixes, --', () => {
  const r = getopt('dog', ['test', '-p', '7002', '-rc3', '--addr=1.2.3.4', '10G', '--', '-x'], OPTS);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.args, ['test', '10G', '-x']);
  assert.equal(r.options, [
    { short: 'p', value: '7002' }, { short: 'r', value: undefined }, { short: 'c', value: '3' },
    { short: 'a', value: '1.2.3.4' },
  ]);
});

test('getopt: glibc messages', () => {
  const msg = (argv: string[]) => { const r = getopt('dog', argv, OPTS); return r.ok ? '' : r.message; };
  assert.is(msg(['-x']), "dog: invalid option -- 'x'");
  assert.is(msg(['-1G']), "dog: invalid option -- '1'");
  assert.is(msg(['-p']), "dog: option requires an argument -- 'p'");
  assert.is(msg(['--foo']), "dog: unrecognized option '--foo'");
  assert.is(msg(['--raw=1']), "dog: option '--raw' doesn't allow an argument");
  assert.is(msg(['--port']), "dog: option '--port' requires an argument");
  assert.is(msg(['--co', '3']), "dog: option '--co' is ambiguous; possibilities: '--copies' '--cow'");
});

test.run();
