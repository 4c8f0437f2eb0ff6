/**
 * Argument and option parsing (redundancy, snapshot selectors, indexes, oids,
 * ports, sizes), the getopt errors dog shows for its option strings, and the
 * pure parts of vdi write/read/delete/resize/create: chunking, zero fill,
 * copy-on-write planning, discard batches and size limits.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getopt } from '../../shared/getopt.js';
import { parseSize } from '../../shared/size.js';
import { parsePort } from '../../dog/address.js';
import { findCommand, findSubcommand } from '../../dog/commands.js';
import {
  applyOption, defaultOptionValues, parseIndex, parseOid, parseRedundancy, parseSnapshotSelector,
} from '../../dog/option-values.js';
import { redundancyText } from '../../shared/report-text.js';
import { optionsOf } from '../../dog/options.js';
import { sizeLimitError } from '../../dog/vdi/create.js';
import { discardBatches } from '../../dog/vdi/delete.js';
import { pieces } from '../../dog/vdi/range.js';
import { resizeError } from '../../dog/vdi/resize.js';
import { fillPiece, planPiece, windowFor } from '../../dog/vdi/write.js';
import { formatCtime, formatFlags } from '../../dog/cluster/format.js';

const MiB = 1024 * 1024;

test('redundancy -c: N or D:P', () => {
  assert.equal(parseRedundancy('3'), { copies: 3, policy: 0 });
  assert.equal(parseRedundancy('31'), { copies: 31, policy: 0 });
  assert.equal(parseRedundancy('2:1'), { copies: 3, policy: 0x11 });
  assert.equal(parseRedundancy('4:2'), { copies: 6, policy: 0x22 });
  assert.equal(parseRedundancy('16:15'), { copies: 31, policy: 0x8f });
  for (const bad of ['0', '32', '3:1', '2:0', '16:16', 'something', '2:', ':1', '3x', '1234567890']) {
    assert.is(parseRedundancy(bad), undefined, bad);
  }
  assert.is(redundancyText(3, 0), '3');
  assert.is(redundancyText(6, 0x22), '4:2');
});

test('snapshot selector -s: ids and tags', () => {
  assert.equal(parseSnapshotSelector('2'), { isId: true, id: 2, tag: '' });
  assert.equal(parseSnapshotSelector('snap1'), { isId: false, id: 0, tag: 'snap1' });
  assert.equal(parseSnapshotSelector('1a'), { isId: false, id: 0, tag: '1a' });
  assert.equal(parseSnapshotSelector('0'), { isId: true, id: 0, tag: '' });
  assert.is(parseSnapshotSelector('t'.repeat(300)).tag.length, 255);
});

test('index -i and oid -o', () => {
  assert.is(parseIndex('5000'), 5000n);
  assert.is(parseIndex('0x10'), 16n);
  assert.is(parseIndex('12abc'), 12n);
  assert.is(parseIndex('abc'), undefined);
  assert.is(parseOid('65a69a00000001'), 0x65a69a00000001n);
  assert.is(parseOid('0x807c2b2500000000'), 0x807c2b2500000000n);
  assert.is(parseOid('zz'), undefined);
});

test('family options set their values; -m also sets strict', () => {
  const o = defaultOptionValues();
  applyOption('cluster', 'm', undefined, o);
  assert.ok(o.multithread && o.strict);
  applyOption('cluster', 'b', 'a-very-long-store-name', o);
  assert.is(o.store, 'a-very-long-sto');
  applyOption('vdi', 'c', '4:2', o);
  assert.equal([o.copies, o.copyPolicy], [6, 0x22]);
  applyOption('vdi', 'z', '23', o);
  assert.is(o.blockSizeShift, 23);
  assert.is(formatFlags(defaultOptionValues()), 0x04);
  const f = defaultOptionValues();
  Object.assign(f, { strict: true, useLock: true, recycleVid: true, fixedVnodes: true, avoidDiskfull: true });
  assert.is(formatFlags(f), 0x01 | 0x08 | 0x10 | 0x20);
  assert.is(formatCtime(1795392489123.456), (1795392489n << 32n) | (123456n * 1000n));
});

test('ports', () => {
  assert.is(parsePort('7000'), 7000);
  for (const bad of ['99999', 'abc', '0', '', '+1', '-1', '70 00']) assert.is(parsePort(bad), undefined, bad);
});

test('getopt errors for dog option strings', () => {
  const defs = (cmd: string, sub: string) => {
    const c = findCommand(cmd)!;
    return optionsOf(c.family, findSubcommand(c, sub)!.opts).map((o) => ({ short: o.ch, long: o.long, hasArg: o.hasArg }));
  };
  const msg = (argv: string[], cmd: string, sub: string) => {
    const r = getopt('dog', argv, defs(cmd, sub));
    return r.ok ? '' : r.message;
  };
  assert.is(msg(['-s', '2', 'one.img'], 'vdi', 'list'), "dog: invalid option -- 's'");
  assert.is(msg(['-i'], 'vdi', 'list'), "dog: invalid option -- 'i'");
  assert.is(msg(['bad.img', '-1G'], 'vdi', 'create'), "dog: invalid option -- '1'");
  assert.is(msg(['-p'], 'node', 'list'), "dog: option requires an argument -- 'p'");
  const ok = getopt('dog', ['test', '-p', '7002'], defs('vdi', 'read'));
  assert.ok(ok.ok && ok.args[0] === 'test' && ok.options[0]!.value === '7002');
});

test('sizes', () => {
  assert.is(parseSize('1.5G'), 1.5 * 1024 * MiB);
  assert.is(parseSize('1k'), 1024);
  assert.is(parseSize('4M'), 4 * MiB);
  assert.is(parseSize('0'), 0);
  for (const bad of ['10X', 'abc', '1KB', '1e', '']) assert.is(parseSize(bad), undefined, bad);
});

test('vdi read/write pieces end at object boundaries', () => {
  assert.equal([...pieces(0, 14, 4 * MiB)], [{ idx: 0, offset: 0, len: 14 }]);
  assert.equal([...pieces(4 * MiB - 2, 6, 4 * MiB)], [{ idx: 0, offset: 4 * MiB - 2, len: 2 }, { idx: 1, offset: 0, len: 4 }]);
  assert.equal([...pieces(99 * MiB, MiB, 4 * MiB)], [{ idx: 24, offset: 3 * MiB, len: MiB }]);
  assert.is([...pieces(0, 1024 * MiB, 4 * MiB)].length, 256);
  assert.equal([...pieces(5, 0, 4 * MiB)], []);
});

test('vdi write: a short read zero-fills its piece and ends the write', async () => {
  const buf = Buffer.alloc(512, 0xff);
  const src = Buffer.from('1\n');
  const ended = await fillPiece(async (b, n) => src.copy(b, 0, 0, Math.min(n, src.length)), buf, 512);
  assert.ok(ended);
  assert.is(buf.subarray(0, 2).toString(), '1\n');
  assert.ok(buf.subarray(2).every((x) => x === 0));
  const empty = Buffer.alloc(16, 0xff);
  assert.ok(await fillPiece(async () => 0, empty, 16));
  assert.ok(empty.every((x) => x === 0));
  const full = Buffer.alloc(8);
  assert.not.ok(await fillPiece(async (b, n) => b.fill(1, 0, n).length, full, 8));
});

test('vdi write: create, copy-on-write or plain write', () => {
  const p = { idx: 3, offset: 0, len: 10 };
  assert.equal(planPiece(0, 0x65a69c, p), { create: true, cowOid: 0n });
  assert.equal(planPiece(0x65a69a, 0x65a69c, p), { create: true, cowOid: 0x65a69a00000003n });
  assert.equal(planPiece(0x65a69c, 0x65a69c, p), { create: false, cowOid: 0n });
  assert.is(windowFor(4 * MiB), 8);
  assert.is(windowFor(2 ** 31), 1);
});

test('vdi delete: discard batches of 128 non-zero slots', () => {
  assert.equal(discardBatches([0, 0, 0]), []);
  assert.equal(discardBatches([0, 5, 0, 5, 0]), [[1, 5]]);
  const slots = Array.from({ length: 300 }, (_, i) => (i % 2 ? 7 : 0));
  assert.equal(discardBatches(slots), [[1, 256], [257, 300]]);
});

test('size limits of vdi create and vdi resize', () => {
  const TB = 1024n ** 4n;
  assert.is(sizeLimitError(4n * TB, 22, false, false), undefined);
  assert.is(sizeLimitError(5n * TB, 22, false, false),
    "VDI size is larger than 4.0 TB bytes, please use '-y' to create a hyper volume with size up to 16 PB bytes or use '-z' to create larger object size volume");
  assert.is(sizeLimitError(5n * TB, 22, true, false), undefined);
  assert.is(sizeLimitError(2n ** 55n, 22, true, false), 'VDI size is too large');
  assert.is(resizeError(5n * TB, 2n ** 31n, 22, false), "New VDI size is too large. This volume's max size is 4398046511104");
  assert.is(resizeError(2n ** 30n, 2n ** 31n, 22, false), 'Shrinking VDIs is not implemented');
  assert.is(resizeError(2n ** 55n, 0n, 22, true), "New VDI size is too large This volume's max size is 18014398509481984");
  assert.is(resizeError(2n ** 32n, 2n ** 31n, 22, false), undefined);
});

test.run();
