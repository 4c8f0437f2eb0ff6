import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SD_RES } from '../../shared/proto/results.js';
import { parseSnapshotName } from '../../sheep/nbd/exports.js';
import {
  chunkHeader, decodeInfoRequest, decodeOptionHeader, decodeRequest, encodeInfoRequest, encodeOptionHeader, encodeRequest,
  errorChunk, exportNameReply, greeting, infoBlockSize, infoExport, NBD_CMD, NBD_E, NBD_OPT, NBD_REP, NBD_REP_ERR,
  offsetDataHeader, optionReply, simpleReply,
} from '../../sheep/nbd/proto.js';
import { nbdErrno } from '../../sheep/nbd/session.js';
import { parseListenAddr, parseSheepArgs } from '../../sheep/options.js';

const hex = (b: Buffer): string => b.toString('hex');

test('the greeting is NBDMAGIC, IHAVEOPT and the fixed-newstyle + no-zeroes flags', () => {
  assert.is(hex(greeting()), '4e42444d41474943' + '49484156454f5054' + '0003');
});

test('option headers and replies have the protocol layout', () => {
  const h = encodeOptionHeader(NBD_OPT.GO, 10);
  assert.is(hex(h), '49484156454f5054' + '00000007' + '0000000a');
  assert.equal(decodeOptionHeader(h), { magic: 0x49484156454f5054n, option: 7, length: 10 });
  assert.is(hex(optionReply(NBD_OPT.LIST, NBD_REP.ACK)), '0003e889045565a9' + '00000003' + '00000001' + '00000000');
  assert.is(hex(optionReply(NBD_OPT.GO, NBD_REP_ERR.UNKNOWN, Buffer.from('x'))), '0003e889045565a9' + '00000007' + '80000006' + '00000001' + '78');
  assert.is(hex(infoExport(0x1000n, 0x10d)), '0000' + '0000000000001000' + '010d');
  assert.is(hex(infoBlockSize(1, 4096, 32 << 20)), '0003' + '00000001' + '00001000' + '02000000');
  assert.is(exportNameReply(5n, 1, false).length, 134);
  assert.is(exportNameReply(5n, 1, true).length, 10);
});

test('INFO/GO requests decode, and malformed ones are refused', () => {
  const b = encodeInfoRequest('vdi:tag', [3, 1]);
  assert.equal(decodeInfoRequest(b), { name: 'vdi:tag', requests: [3, 1] });
  assert.is(decodeInfoRequest(b.subarray(0, b.length - 1)), undefined);
  assert.is(decodeInfoRequest(Buffer.from('0000ffff0000', 'hex')), undefined);
});

test('requests and replies', () => {
  const r = encodeRequest({ flags: 1, type: NBD_CMD.WRITE, cookie: 0x0102030405060708n, offset: 4096n, length: 512 });
  assert.is(hex(r), '25609513' + '0001' + '0001' + '0102030405060708' + '0000000000001000' + '00000200');
  assert.equal(decodeRequest(r), { magic: 0x25609513, flags: 1, type: 1, cookie: 0x0102030405060708n, offset: 4096n, length: 512 });
  assert.is(hex(simpleReply(9n, NBD_E.EPERM)), '67446698' + '00000001' + '0000000000000009');
  assert.is(hex(chunkHeader(9n, 1, 0, 0)), '668e33ef' + '0001' + '0000' + '0000000000000009' + '00000000');
  assert.is(hex(offsetDataHeader(9n, 512n, 4, true)), '668e33ef' + '0001' + '0001' + '0000000000000009' + '0000000c' + '0000000000000200');
  assert.is(hex(errorChunk(9n, NBD_E.EIO, 'no')), '668e33ef' + '0001' + '8001' + '0000000000000009' + '00000008' + '00000005' + '0002' + '6e6f');
});

test('Sheepdog results map to NBD errors', () => {
  assert.is(nbdErrno(SD_RES.READONLY), NBD_E.EPERM);
  assert.is(nbdErrno(SD_RES.NO_SPACE), NBD_E.ENOSPC);
  assert.is(nbdErrno(SD_RES.INVALID_PARMS), NBD_E.EINVAL);
  assert.is(nbdErrno(SD_RES.NETWORK_ERROR), NBD_E.EIO);
});

test('export names: name@snapid and name:tag name snapshots', () => {
  assert.equal(parseSnapshotName('a@3'), { name: 'a', snapid: 3, tag: null });
  assert.equal(parseSnapshotName('a:b:c'), { name: 'a:b', snapid: 0, tag: 'c' });
  assert.is(parseSnapshotName('plain'), undefined);
  assert.is(parseSnapshotName('a@'), undefined);
  assert.is(parseSnapshotName('a@0'), undefined);
  assert.is(parseSnapshotName(':x'), undefined);
});

test('--nbd [ADDR:]PORT and --nbd-unix PATH', () => {
  assert.equal(parseListenAddr('10809'), { host: '127.0.0.1', port: 10809 });
  assert.equal(parseListenAddr('0.0.0.0:10809'), { host: '0.0.0.0', port: 10809 });
  assert.equal(parseListenAddr('[::1]:10809'), { host: '::1', port: 10809 });
  assert.is(parseListenAddr('host:10809'), undefined);
  assert.is(parseListenAddr('70000'), undefined);
  const o = parseSheepArgs(['--nbd', '10809', '--nbd-unix=/run/s.sock', '/tmp/x']);
  assert.ok('run' in o);
  if ('run' in o) assert.equal(o.run.nbd, { tcp: { host: '127.0.0.1', port: 10809 }, unix: '/run/s.sock' });
  const off = parseSheepArgs(['/tmp/x']);
  if ('run' in off) assert.equal(off.run.nbd, { tcp: undefined, unix: undefined });
  assert.equal(parseSheepArgs(['--nbd', 'x']), { exit: 1, stderr: "Bad NBD address 'x': [ADDR:]PORT\n" });
  const m = parseSheepArgs(['--metrics', '0.0.0.0:9100']);
  if ('run' in m) assert.equal(m.run.metrics, { host: '0.0.0.0', port: 9100 });
  else assert.unreachable('--metrics parses');
});

test.run();
