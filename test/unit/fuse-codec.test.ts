/**
 * The FUSE protocol structs of sheepfs/fuse/codec.ts against
 * include/uapi/linux/fuse.h (7.45): sizes and field offsets as sizeof /
 * offsetof give them there, and what is encoded decodes back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  FOPEN, INIT, OP, SIZE, WRITE_DATA_AT, decodeBatchForget, decodeInHeader, decodeInitIn, decodeIoIn, decodeName,
  decodeSetattrIn, encodeAttrOut, encodeDirent, encodeEntryOut, encodeInitOut, encodeOpenOut, encodeOutHeader,
  encodeStatfsOut, encodeWriteOut, u64,
} from '../../sheepfs/fuse/codec.js';

test('struct sizes are those of the kernel header', () => {
  assert.equal({ ...SIZE }, {
    inHeader: 40, outHeader: 16, attr: 88, entryOut: 128, attrOut: 104, initIn: 64, initOut: 64, openOut: 16,
    readIn: 40, writeIn: 40, writeOut: 8, setattrIn: 88, statfsOut: 80, forgetOne: 16, direntHead: 24,
  });
  assert.is(WRITE_DATA_AT, 80);
});

test('opcodes and flags have the header values', () => {
  assert.equal([OP.LOOKUP, OP.FORGET, OP.GETATTR, OP.SETATTR, OP.UNLINK, OP.OPEN, OP.READ, OP.WRITE], [1, 2, 3, 4, 10, 14, 15, 16]);
  assert.equal([OP.STATFS, OP.RELEASE, OP.FSYNC, OP.FLUSH, OP.INIT, OP.OPENDIR, OP.READDIR, OP.RELEASEDIR], [17, 18, 20, 25, 26, 27, 28, 29]);
  assert.equal([OP.ACCESS, OP.INTERRUPT, OP.DESTROY, OP.BATCH_FORGET], [34, 36, 38, 42]);
  assert.equal([INIT.ASYNC_READ, INIT.BIG_WRITES, INIT.ASYNC_DIO, INIT.PARALLEL_DIROPS, INIT.MAX_PAGES, INIT.INIT_EXT],
    [1, 32, 1 << 15, 1 << 18, 1 << 22, 1 << 30]);
  assert.equal([FOPEN.DIRECT_IO, FOPEN.KEEP_CACHE, FOPEN.PARALLEL_DIRECT_WRITES], [1, 2, 64]);
});

/** A request as the kernel lays it out: fuse_in_header, then the op's arguments. */
function request(opcode: number, unique: bigint, nodeid: number, args: Buffer): Buffer {
  const b = Buffer.alloc(40 + args.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(unique, 8);
  b.writeBigUInt64LE(BigInt(nodeid), 16);
  args.copy(b, 40);
  return b;
}

test('requests decode from the header layout', () => {
  const init = Buffer.alloc(64);
  init.writeUInt32LE(7, 0); init.writeUInt32LE(45, 4); init.writeUInt32LE(131072, 8);
  init.writeUInt32LE(0x73fffffb, 12); init.writeUInt32LE(0x5fd, 16);
  const b = request(OP.INIT, 2n, 0, init);
  assert.equal(decodeInHeader(b), { len: 104, opcode: 26, unique: 2n, nodeid: 0 });
  assert.equal(decodeInitIn(b), { major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd });

  // fuse_write_in: fh, offset, size, write_flags, lock_owner, flags, padding; data after it
  const w = Buffer.alloc(40 + 3);
  w.writeBigUInt64LE(7n, 0); w.writeBigUInt64LE(5n * 2n ** 32n + 12n, 8); w.writeUInt32LE(3, 16); w.writeUInt32LE(0o2, 32);
  w.write('abc', 40);
  const wr = request(OP.WRITE, 9n, 5, w);
  assert.equal(decodeIoIn(wr), { fh: 7, offset: 5 * 2 ** 32 + 12, size: 3, flags: 2 });
  assert.is(wr.toString('utf8', WRITE_DATA_AT, WRITE_DATA_AT + 3), 'abc');

  // fuse_setattr_in: valid, padding, fh, size
  const s = Buffer.alloc(88);
  s.writeUInt32LE(8, 0); s.writeBigUInt64LE(3n, 8); s.writeBigUInt64LE(1n << 40n, 16);
  assert.equal(decodeSetattrIn(request(OP.SETATTR, 1n, 2, s)), { valid: 8, fh: 3, size: 2 ** 40 });

  const bf = Buffer.alloc(8 + 32);
  bf.writeUInt32LE(2, 0);
  bf.writeBigUInt64LE(4n, 8); bf.writeBigUInt64LE(1n, 16); bf.writeBigUInt64LE(6n, 24); bf.writeBigUInt64LE(3n, 32);
  assert.equal(decodeBatchForget(request(OP.BATCH_FORGET, 1n, 0, bf)), [{ nodeid: 4, nlookup: 1 }, { nodeid: 6, nlookup: 3 }]);

  const name = request(OP.LOOKUP, 1n, 1, Buffer.from('vdi\0'));
  assert.is(decodeName(name, name.length), 'vdi');
});

test('replies encode at the header offsets', () => {
  const b = Buffer.alloc(256, 0xff);
  encodeOutHeader(b, 16 + 64, -2, 77n);
  assert.equal([b.readUInt32LE(0), b.readInt32LE(4), b.readBigUInt64LE(8)], [80, -2, 77n]);

  assert.is(encodeInitOut(b, 16, {
    major: 7, minor: 45, maxReadahead: 1 << 17, flags: 0x40c8021, maxBackground: 64, congestionThreshold: 48,
    maxWrite: 1 << 20, timeGran: 1, maxPages: 256, flags2: 0,
  }), 64);
  // fuse_init_out: max_background at 16, max_write at 20, max_pages at 28, flags2 at 32
  assert.equal([b.readUInt32LE(16 + 4), b.readUInt32LE(16 + 12), b.readUInt16LE(16 + 16), b.readUInt32LE(16 + 20)], [45, 0x40c8021, 64, 1 << 20]);
  assert.equal([b.readUInt16LE(16 + 28), b.readUInt32LE(16 + 32), b.readUInt32LE(16 + 60)], [256, 0, 0]);

  const attr = { ino: 9, size: 5 * 2 ** 32 + 1, mode: 0o100644, nlink: 1, uid: 0, gid: 0, mtimeMs: 1_500_000_000_250 };
  b.fill(0xff);
  assert.is(encodeEntryOut(b, 0, 9, 1, attr), 128);
  assert.is(u64(b, 0), 9);
  assert.is(u64(b, 16), 1); // entry_valid
  // fuse_attr from 40: ino, size, blocks; mtime at 32, mtimensec at 52, mode at 60, blksize at 80
  assert.equal([u64(b, 40), u64(b, 48), u64(b, 56)], [9, 5 * 2 ** 32 + 1, Math.ceil((5 * 2 ** 32 + 1) / 512)]);
  assert.equal([u64(b, 40 + 32), b.readUInt32LE(40 + 52), b.readUInt32LE(40 + 60), b.readUInt32LE(40 + 80)], [1_500_000_000, 250_000_000, 0o100644, 4096]);
  assert.is(encodeAttrOut(b, 0, 1, attr), 104);
  assert.is(u64(b, 16 + 8), 5 * 2 ** 32 + 1);

  assert.is(encodeOpenOut(b, 0, 12, FOPEN.DIRECT_IO | FOPEN.PARALLEL_DIRECT_WRITES), 16);
  assert.equal([u64(b, 0), b.readUInt32LE(8)], [12, 65]);
  assert.is(encodeWriteOut(b, 0, 1 << 20), 8);
  assert.is(b.readUInt32LE(0), 1 << 20);
  assert.is(encodeStatfsOut(b, 0), 80);
  assert.equal([b.readUInt32LE(40), b.readUInt32LE(44), b.readUInt32LE(48)], [4096, 255, 4096]);
});

test('dirents are padded to 8 bytes and stop at the limit', () => {
  const b = Buffer.alloc(64);
  assert.is(encodeDirent(b, 0, 64, 5, 1, 'list'), 32); // 24 + 4, padded
  assert.equal([u64(b, 0), u64(b, 8), b.readUInt32LE(16), b.toString('utf8', 24, 28)], [5, 1, 4, 'list']);
  assert.is(encodeDirent(b, 32, 64, 6, 2, 'x'.repeat(9)), 0); // 24 + 9 = 33 > 32 left
});

test.run();
