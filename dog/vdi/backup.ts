/**
 * dog vdi backup -F <from> -s <to> <vdi> and dog vdi restore -s <snap> <vdi>
 * (cli.md §2.7.17-18). The stream: u32 version 1, u32 magic 0x11921192, then
 * records {u32 idx, u32 offset, u32 length, u32 reserved} + data, ended by a
 * record with idx 0xffffffff. A record holds the part of an object between
 * the first and last 512-byte sectors that differ between the two snapshots.
 */
import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { HyperTree } from '../../shared/btree.js';
import { countDataObjs, decodeInodeHeader, INODE_OFF } from '../../shared/inode.js';
import { SD_RES } from '../../shared/proto/results.js';
import { SD_INODE_HEADER_SIZE, vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import type { Dog } from '../context.js';
import { strerror } from '../errno.js';
import { EXIT } from '../exit.js';
import { readFull } from '../fdio.js';
import { readObject, writeObject } from '../object-io.js';
import { err, writeBinary } from '../output.js';
import { Progress } from '../progress.js';
import { newVdi } from './create.js';
import { deleteVdi } from './delete.js';
import { openHyperTree, setEntry } from './hyper-tree.js';
import { inodeIndex, type InodeIndex } from './inode-index.js';
import { readVdiObj } from './open.js';
import { INODE_WITH_INDEX } from './read.js';
import { slotWrite } from './slots.js';

export const BACKUP_VERSION = 1;
export const BACKUP_MAGIC = 0x11921192;
const END_IDX = 0xffffffff;
const SECTOR = 512;

/** The differing range [start, end) of two equal-sized buffers, trimmed to whole sectors; start === end when equal. */
export function diffRange(a: Buffer, b: Buffer): { start: number; end: number } {
  let start = 0;
  let end = b.length;
  while (start < end && a.subarray(start, start + SECTOR).equals(b.subarray(start, start + SECTOR))) start += SECTOR;
  while (end > start) {
    const s = Math.max(start, end - SECTOR);
    if (!a.subarray(s, end).equals(b.subarray(s, end))) break;
    end = s;
  }
  return { start: Math.min(start, end), end };
}

export function recordHeader(idx: number, offset: number, length: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(idx >>> 0, 0);
  h.writeUInt32LE(offset, 4);
  h.writeUInt32LE(length, 8);
  return h;
}

async function openIndexed(dog: Dog, name: string, id: number, tag: string) {
  const opened = await readVdiObj(dog, name, id, tag, INODE_WITH_INDEX);
  if (!opened) return undefined;
  const h = decodeInodeHeader(opened.inode);
  const index = await inodeIndex(dog, opened.inode, h.storePolicy, countDataObjs(h));
  return index ? { ...opened, h, index } : undefined;
}

async function objectOrZero(dog: Dog, index: InodeIndex, idx: number, size: number): Promise<Buffer | undefined> {
  const vid = index.vidAt(idx);
  if (!vid) return Buffer.alloc(size);
  const r = await readObject(dog, vidToDataOid(vid, idx), size, 0, true);
  if (r.result !== SD_RES.SUCCESS) {
    err(`Failed to read object ${vid.toString(16)}, ${idx}`);
    return undefined;
  }
  return r.data;
}

async function put(buf: Buffer, what: string): Promise<boolean> {
  try {
    await writeBinary(buf);
    return true;
  } catch (e) {
    err(`failed to write ${what}, ${strerror(e)}`);
    return false;
  }
}

export const backup = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const o = dog.opts;
    const name = args[0]!;
    if ((!o.fromSnapshotId && !o.fromSnapshotTag) || (!o.snapshotId && !o.snapshotTag)) {
      err("Please specify snapshots with '-F' and '-s' options");
      return EXIT.USAGE;
    }
    const from = await openIndexed(dog, name, o.fromSnapshotId, o.fromSnapshotTag);
    if (!from) return EXIT.FAILURE;
    const to = await openIndexed(dog, name, o.snapshotId, o.snapshotTag);
    if (!to) return EXIT.FAILURE;
    const head = Buffer.alloc(8);
    head.writeUInt32LE(BACKUP_VERSION, 0);
    head.writeUInt32LE(BACKUP_MAGIC, 4);
    if (!(await put(head, 'backup header'))) return EXIT.SYSFAIL;
    const objSize = 2 ** to.h.blockSizeShift;
    const count = countDataObjs(to.h);
    // measured in the snapshot's bytes walked (the stream's length is known only at the end)
    const progress = new Progress(count * objSize, count, { label: 'backup' });
    const failed = (code: number): number => {
      progress.abort();
      return code;
    };
    // only indexes allocated in either snapshot differ: walk those, not the (possibly huge) range
    const allocated = new Set<number>();
    for (const index of [from.index, to.index]) for (const [idx] of index.entries()) allocated.add(idx);
    for (const idx of [...allocated].sort((a, b) => a - b)) {
      progress.update(idx * objSize);
      const fv = from.index.vidAt(idx);
      const tv = to.index.vidAt(idx);
      if ((fv === 0 && tv === 0) || fv === tv) continue;
      const a = await objectOrZero(dog, from.index, idx, objSize);
      const b = await objectOrZero(dog, to.index, idx, objSize);
      if (!a || !b) return failed(EXIT.FAILURE);
      const { start, end } = diffRange(a, b);
      if (start === end) continue;
      if (!(await put(Buffer.concat([recordHeader(idx, start, end - start), b.subarray(start, end)]), 'backup data'))) {
        return failed(EXIT.SYSFAIL);
      }
    }
    if (!(await put(recordHeader(END_IDX, 0, 0), 'end marker'))) return failed(EXIT.SYSFAIL);
    progress.end();
    return EXIT.SUCCESS;
  },
};

async function readExactly(len: number): Promise<Buffer | undefined> {
  const b = Buffer.alloc(len);
  return (await readFull(0, b, len)) === len ? b : undefined;
}

/** Apply the records of the stream to VDI `vid` (a fresh child of the snapshot). */
async function applyRecords(
  dog: Dog, vid: number, h: ReturnType<typeof decodeInodeHeader>, index: InodeIndex, progress: Progress,
): Promise<number> {
  const objSize = 2 ** h.blockSizeShift;
  // a hyper volume's entries go to its own tree (begun as a copy of the snapshot's root)
  let tree: HyperTree | undefined;
  if (h.storePolicy === 1) {
    const inode = await readObject(dog, vidToVdiOid(vid), INODE_WITH_INDEX, 0, true);
    if (inode.result !== SD_RES.SUCCESS) return EXIT.FAILURE;
    tree = await openHyperTree(dog, vid, inode.data);
    if (!tree) return EXIT.FAILURE;
  }
  for (;;) {
    const rh = await readExactly(16).catch(() => undefined);
    if (!rh) {
      err('failed to read backup data');
      return EXIT.SYSFAIL;
    }
    const idx = rh.readUInt32LE(0);
    if (idx === END_IDX) {
      progress.end();
      return EXIT.SUCCESS;
    }
    const offset = rh.readUInt32LE(4);
    const length = rh.readUInt32LE(8);
    if (offset + length > objSize) {
      err('The backup file is corrupted');
      return EXIT.SYSFAIL;
    }
    const data = await readExactly(length).catch(() => undefined);
    if (!data) {
      err('failed to read backup data');
      return EXIT.SYSFAIL;
    }
    const owner = index.vidAt(idx);
    const w = await writeObject(dog, {
      oid: vidToDataOid(vid, idx), cowOid: owner && owner !== vid ? vidToDataOid(owner, idx) : 0n, data, offset,
      copies: h.nrCopies, copyPolicy: h.copyPolicy, create: owner !== vid, direct: true,
    });
    if (w !== SD_RES.SUCCESS) return EXIT.FAILURE;
    if (owner !== vid && tree) {
      const message = await setEntry(tree, idx, vid);
      if (message !== undefined) {
        err(message);
        return EXIT.FAILURE;
      }
    } else if (owner !== vid) {
      if ((await slotWrite(dog, vid, idx, h, { direct: true })) !== SD_RES.SUCCESS) return EXIT.FAILURE;
    }
    progress.advance(16 + length);
  }
}

/** The stream's length when stdin is a file (`< backup.img`), else unknown. */
function stdinLength(): number {
  try {
    const st = fstatSync(0);
    return st.isFile() ? st.size : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export const restore = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const o = dog.opts;
    const name = args[0]!;
    if (!o.snapshotId && !o.snapshotTag) {
      err('We can restore a backup file only to snapshots');
      err("Please specify the '-s' option");
      return EXIT.USAGE;
    }
    // read_vdi_obj's own message first, then the original's second line
    if (!(await readVdiObj(dog, name, o.snapshotId, o.snapshotTag, SD_INODE_HEADER_SIZE))) {
      err(`Snapshot ID ${o.snapshotId} or tag ${o.snapshotTag} doesn't exist`);
      return EXIT.FAILURE;
    }
    if (isatty(0)) {
      err('stdin must be pipe');
      return EXIT.USAGE;
    }
    const head = await readExactly(8).catch(() => undefined);
    if (!head || head.readUInt32LE(0) !== BACKUP_VERSION || head.readUInt32LE(4) !== BACKUP_MAGIC) {
      err('The backup file is corrupted');
      return EXIT.SYSFAIL;
    }
    const current = await readVdiObj(dog, name, 0, '', SD_INODE_HEADER_SIZE);
    if (!current) return EXIT.FAILURE;
    const cur = decodeInodeHeader(current.inode);
    const base = await openIndexed(dog, name, o.snapshotId, o.snapshotTag);
    if (!base) return EXIT.FAILURE;
    if ((await deleteVdi(dog, name, 0, null)) !== EXIT.SUCCESS) {
      err('Failed to delete the current state');
      return EXIT.FAILURE;
    }
    const created = await newVdi(dog, {
      name, size: base.inode.readBigUInt64LE(INODE_OFF.vdiSize), baseVid: base.vid, snapshot: false,
      copies: base.h.nrCopies, copyPolicy: base.h.copyPolicy, storePolicy: base.h.storePolicy,
      blockSizeShift: base.h.blockSizeShift,
    });
    let ret = created.code;
    if (ret === EXIT.SUCCESS) {
      // the 8-byte header is read already; every record is counted as it is applied
      const progress = new Progress(stdinLength(), Number.POSITIVE_INFINITY, { label: 'restore' });
      progress.advance(8);
      ret = await applyRecords(dog, created.vid, base.h, base.index, progress);
      if (ret !== EXIT.SUCCESS) {
        progress.abort();
        err('failed to restore backup');
        await deleteVdi(dog, name, 0, null);
      }
    }
    // the restored image becomes a snapshot; a new working VDI grows from the old one's parent
    const resumed = await newVdi(dog, {
      name, size: current.inode.readBigUInt64LE(INODE_OFF.vdiSize), baseVid: cur.parentVdiId, snapshot: true,
      copies: cur.nrCopies, copyPolicy: cur.copyPolicy, storePolicy: cur.storePolicy, blockSizeShift: cur.blockSizeShift,
    });
    if (resumed.code !== EXIT.SUCCESS) {
      err('failed to resume the current vdi');
      return resumed.code;
    }
    return ret;
  },
};
