/**
 * The FUSE kernel protocol's structs that sheepfs uses, as offsets into a
 * Buffer (little-endian, the layout of include/uapi/linux/fuse.h, protocol
 * 7.45). Requests are decoded where they lie in the read buffer (no copy);
 * replies are encoded into one scratch buffer, written before it is reused.
 */

/** Opcodes (enum fuse_opcode). */
export const OP = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, UNLINK: 10, OPEN: 14, READ: 15, WRITE: 16,
  STATFS: 17, RELEASE: 18, FSYNC: 20, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28,
  RELEASEDIR: 29, FSYNCDIR: 30, ACCESS: 34, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42,
} as const;

/** INIT flags (the low 32 bits; flags2 holds bits 32..63). */
export const INIT = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  INIT_EXT: 1 << 30,
} as const;

/** OPEN reply flags. */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  PARALLEL_DIRECT_WRITES: 1 << 6,
} as const;

/** fuse_setattr_in.valid bits. */
export const FATTR = { MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5 } as const;

/** Sizes of the structs (checked against the header by the unit test). */
export const SIZE = {
  inHeader: 40,
  outHeader: 16,
  attr: 88,
  entryOut: 128,
  attrOut: 104,
  initIn: 64,
  initOut: 64,
  openOut: 16,
  readIn: 40,
  writeIn: 40,
  writeOut: 8,
  setattrIn: 88,
  statfsOut: 80,
  forgetOne: 16,
  direntHead: 24,
} as const;

/** fuse_in_header, read in place. */
export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: number;
}

export function decodeInHeader(b: Buffer): InHeader {
  return { len: b.readUInt32LE(0), opcode: b.readUInt32LE(4), unique: b.readBigUInt64LE(8), nodeid: u64(b, 16) };
}

/** A u64 that holds ids and offsets below 2^53 (nodeids we hand out, file offsets). */
export function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000;
}

function putU64(b: Buffer, at: number, v: number): void {
  b.writeUInt32LE(v >>> 0, at);
  b.writeUInt32LE(Math.floor(v / 0x1_0000_0000) >>> 0, at + 4);
}

/** The request's arguments start after the in header. */
const A = SIZE.inHeader;

export interface InitIn { major: number; minor: number; maxReadahead: number; flags: number; flags2: number }
export function decodeInitIn(b: Buffer): InitIn {
  const flags = b.readUInt32LE(A + 12);
  return {
    major: b.readUInt32LE(A), minor: b.readUInt32LE(A + 4), maxReadahead: b.readUInt32LE(A + 8),
    flags, flags2: flags & INIT.INIT_EXT ? b.readUInt32LE(A + 16) : 0,
  };
}

export interface InitOut {
  major: number; minor: number; maxReadahead: number; flags: number;
  maxBackground: number; congestionThreshold: number; maxWrite: number; timeGran: number;
  maxPages: number; flags2: number;
}
export function encodeInitOut(b: Buffer, at: number, o: InitOut): number {
  b.fill(0, at, at + SIZE.initOut);
  b.writeUInt32LE(o.major, at);
  b.writeUInt32LE(o.minor, at + 4);
  b.writeUInt32LE(o.maxReadahead, at + 8);
  b.writeUInt32LE(o.flags >>> 0, at + 12);
  b.writeUInt16LE(o.maxBackground, at + 16);
  b.writeUInt16LE(o.congestionThreshold, at + 18);
  b.writeUInt32LE(o.maxWrite, at + 20);
  b.writeUInt32LE(o.timeGran, at + 24);
  b.writeUInt16LE(o.maxPages, at + 28);
  b.writeUInt32LE(o.flags2 >>> 0, at + 32);
  return SIZE.initOut;
}

export function encodeOutHeader(b: Buffer, len: number, error: number, unique: bigint): void {
  b.writeUInt32LE(len, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
}

/** What a reply's fuse_attr says. */
export interface NodeAttr {
  ino: number; size: number; mode: number; nlink: number; uid: number; gid: number; mtimeMs: number;
}

function encodeAttr(b: Buffer, at: number, a: NodeAttr): void {
  b.fill(0, at, at + SIZE.attr);
  putU64(b, at, a.ino);
  putU64(b, at + 8, a.size);
  putU64(b, at + 16, Math.ceil(a.size / 512));
  const sec = Math.floor(a.mtimeMs / 1000);
  const nsec = Math.floor((a.mtimeMs - sec * 1000) * 1e6);
  for (const t of [24, 32, 40]) putU64(b, at + t, sec); // atime, mtime, ctime
  for (const t of [48, 52, 56]) b.writeUInt32LE(nsec, at + t);
  b.writeUInt32LE(a.mode, at + 60);
  b.writeUInt32LE(a.nlink, at + 64);
  b.writeUInt32LE(a.uid, at + 68);
  b.writeUInt32LE(a.gid, at + 72);
  b.writeUInt32LE(4096, at + 80); // blksize
}

/** fuse_entry_out: nodeid, generation 0, entry and attr timeouts in seconds. */
export function encodeEntryOut(b: Buffer, at: number, nodeid: number, validS: number, a: NodeAttr): number {
  putU64(b, at, nodeid);
  putU64(b, at + 8, 0);
  putU64(b, at + 16, validS);
  putU64(b, at + 24, validS);
  b.writeUInt32LE(0, at + 32);
  b.writeUInt32LE(0, at + 36);
  encodeAttr(b, at + 40, a);
  return SIZE.entryOut;
}

export function encodeAttrOut(b: Buffer, at: number, validS: number, a: NodeAttr): number {
  putU64(b, at, validS);
  b.writeUInt32LE(0, at + 8);
  b.writeUInt32LE(0, at + 12);
  encodeAttr(b, at + 16, a);
  return SIZE.attrOut;
}

export function encodeOpenOut(b: Buffer, at: number, fh: number, openFlags: number): number {
  putU64(b, at, fh);
  b.writeUInt32LE(openFlags, at + 8);
  b.writeInt32LE(0, at + 12);
  return SIZE.openOut;
}

export function encodeWriteOut(b: Buffer, at: number, size: number): number {
  b.writeUInt32LE(size, at);
  b.writeUInt32LE(0, at + 4);
  return SIZE.writeOut;
}

/** fuse_kstatfs: a file system without blocks or inodes to count. */
export function encodeStatfsOut(b: Buffer, at: number): number {
  b.fill(0, at, at + SIZE.statfsOut);
  b.writeUInt32LE(4096, at + 40); // bsize
  b.writeUInt32LE(255, at + 44); // namelen
  b.writeUInt32LE(4096, at + 48); // frsize
  return SIZE.statfsOut;
}

/** fuse_read_in and fuse_write_in share their first fields. */
export interface IoIn { fh: number; offset: number; size: number; flags: number }
export function decodeIoIn(b: Buffer): IoIn {
  return { fh: u64(b, A), offset: u64(b, A + 8), size: b.readUInt32LE(A + 16), flags: b.readUInt32LE(A + 32) };
}
/** Where a WRITE's data starts in the request. */
export const WRITE_DATA_AT = A + SIZE.writeIn;

/** fuse_open_in.flags (the open(2) flags). */
export const decodeOpenFlags = (b: Buffer): number => b.readUInt32LE(A);
/** fuse_release_in / fuse_flush_in / fuse_fsync_in / READDIR's fh: the first field. */
export const decodeFh = (b: Buffer): number => u64(b, A);
/** fuse_forget_in.nlookup */
export const decodeForget = (b: Buffer): number => u64(b, A);

export function decodeBatchForget(b: Buffer): { nodeid: number; nlookup: number }[] {
  const count = b.readUInt32LE(A);
  const out: { nodeid: number; nlookup: number }[] = [];
  for (let i = 0; i < count; i++) {
    const at = A + 8 + i * SIZE.forgetOne;
    out.push({ nodeid: u64(b, at), nlookup: u64(b, at + 8) });
  }
  return out;
}

export interface SetattrIn { valid: number; fh: number; size: number }
export function decodeSetattrIn(b: Buffer): SetattrIn {
  return { valid: b.readUInt32LE(A), fh: u64(b, A + 8), size: u64(b, A + 16) };
}

/** The NUL-terminated name argument of LOOKUP and UNLINK. */
export function decodeName(b: Buffer, len: number): string {
  const end = b.indexOf(0, A);
  return b.toString('utf8', A, end >= A && end < len ? end : len);
}

/** One fuse_dirent (padded to 8 bytes) at `at`, if it fits before `limit`; returns its size or 0. */
export function encodeDirent(b: Buffer, at: number, limit: number, ino: number, off: number, name: string): number {
  const nameLen = Buffer.byteLength(name);
  const size = (SIZE.direntHead + nameLen + 7) & ~7;
  if (at + size > limit) return 0;
  putU64(b, at, ino);
  putU64(b, at + 8, off);
  b.writeUInt32LE(nameLen, at + 16);
  b.writeUInt32LE(0, at + 20); // DT_UNKNOWN: the kernel asks with LOOKUP
  b.write(name, at + 24, 'utf8');
  b.fill(0, at + 24 + nameLen, at + size);
  return size;
}
