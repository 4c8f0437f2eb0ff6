import {
  BTREE_HEADER_SIZE, BTREE_MAGIC, INDIRECT_ENTRY_SIZE, LEAF_ENTRY_SIZE, nodeUsedBytes, readNodeHeader,
} from '../shared/btree.js';
import { SdError } from '../shared/errors.js';
import { fnv1a64, vdiNameHash } from '../shared/hash.js';
import {
  countDataObjs, decodeInodeHeader, encodeInodeHeader, grefOffset, INODE_OFF, isSnapshot, nowCtime, readCString,
  type InodeHeader,
} from '../shared/inode.js';
import {
  oidToVid, SD_INODE_DATA_INDEX, SD_INODE_HEADER_SIZE, SD_MAX_VDI_LEN, SD_NR_VDIS, vidToAttrOid, vidToBtreeOid, vidToDataOid,
  vidToVdiOid,
} from '../shared/oid.js';
import { SD_CLUSTER_FLAG } from '../shared/proto/flags.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import { VDI_ATTR_OFF } from '../shared/proto/vdi-attr.js';
import type { Gateway, ObjectIo } from './gateway.js';
import type { Logger } from './log.js';
import type { MembershipView } from './ports.js';
import { VdiTable } from './vdi-table.js';

export interface LookupResult {
  result: number;
  vid: number;
  /** where a new VDI of this name would go */
  freeSlot: number;
  /** snapshot id for a VDI created under this name */
  nextSnapid: number;
}

/** The inode of a VDI as the VDI code works with it: header, used index slots and their grefs. */
export interface InodeImage {
  header: InodeHeader;
  index: Uint32Array;
  /** generation, count pairs: 2 entries per slot */
  gref: Int32Array;
}

const io = (oid: bigint, offset: number): ObjectIo => ({ oid, offset, copies: 0, copyPolicy: 0, flags: 0 });

/** A depth-1 B-tree root with no entries (sd_inode_init). */
function emptyRoot(): Buffer {
  const b = Buffer.alloc(BTREE_HEADER_SIZE);
  b.writeUInt16LE(BTREE_MAGIC, 0);
  b.writeUInt16LE(1, 2);
  return b;
}

/** VDI creation, snapshot, clone, lookup and deletion: the work parts of the VDI cluster ops. */
/** What the VDI work parts are given: object I/O, the VDI table, the cluster config. */
export interface VdiDeps {
  readonly log: Logger;
  readonly group: Pick<MembershipView, 'cinfo'>;
  readonly gateway: Pick<Gateway, 'read' | 'write' | 'createAndWrite' | 'remove' | 'copies'>;
  readonly vdis: VdiTable;
  /** Issue a cluster op (NOTIFY_VDI_ADD) as this sheep. */
  runInternalClusterOp(req: SdHeader, payload?: Buffer): Promise<SdHeader>;
}

export class VdiManager {
  constructor(private readonly s: VdiDeps) {}

  async readHeader(vid: number): Promise<InodeHeader> {
    const b = await this.s.gateway.read(io(vidToVdiOid(vid), 0), SD_INODE_HEADER_SIZE);
    return decodeInodeHeader(b);
  }

  /** Header, index and grefs of the slots the VDI's size covers. */
  async readInode(vid: number): Promise<InodeImage> {
    const oid = vidToVdiOid(vid);
    const headerBuf = await this.s.gateway.read(io(oid, 0), SD_INODE_HEADER_SIZE);
    const header = decodeInodeHeader(headerBuf);
    const n = header.storePolicy === 1 ? 0 : countDataObjs(header);
    const index = new Uint32Array(n);
    const gref = new Int32Array(2 * n);
    if (n > 0) {
      const ib = await this.s.gateway.read(io(oid, INODE_OFF.dataVdiId), 4 * n);
      const gb = await this.s.gateway.read(io(oid, grefOffset(0)), 8 * n);
      for (let i = 0; i < n; i++) {
        index[i] = ib.readUInt32LE(4 * i);
        gref[2 * i] = gb.readInt32LE(8 * i);
        gref[2 * i + 1] = gb.readInt32LE(8 * i + 4);
      }
    }
    return { header, index, gref };
  }

  /**
   * Write an inode image: header plus index in one create (or write), then the
   * grefs. A hyper volume's index area is `root` (a B-tree root copied from its
   * parent), or a B-tree header with no entries: magic, depth 1, 0.
   */
  async writeInode(img: InodeImage, create: boolean, copies: number, root?: Buffer): Promise<void> {
    const oid = vidToVdiOid(img.header.vdiId);
    const n = img.index.length;
    const hyper = img.header.storePolicy === 1;
    const head = Buffer.alloc(SD_INODE_HEADER_SIZE + (hyper ? root?.length ?? BTREE_HEADER_SIZE : 4 * n));
    encodeInodeHeader(img.header, head);
    if (hyper) (root ?? emptyRoot()).copy(head, INODE_OFF.dataVdiId);
    for (let i = 0; i < n; i++) head.writeUInt32LE(img.index[i]!, SD_INODE_HEADER_SIZE + 4 * i);
    const target = { ...io(oid, 0), copies };
    if (create) await this.s.gateway.createAndWrite(target, head);
    else await this.s.gateway.write(target, head.subarray(0, SD_INODE_HEADER_SIZE));
    if (img.gref.some((v) => v !== 0)) await this.writeGref(img, copies);
  }

  private async writeGref(img: InodeImage, copies: number): Promise<void> {
    const n = img.index.length;
    const b = Buffer.alloc(8 * n);
    for (let i = 0; i < n; i++) {
      b.writeInt32LE(img.gref[2 * i]!, 8 * i);
      b.writeInt32LE(img.gref[2 * i + 1]!, 8 * i + 4);
    }
    await this.s.gateway.write({ ...io(vidToVdiOid(img.header.vdiId), grefOffset(0)), copies }, b);
  }

  private firstZeroBit(from: number): number {
    for (let v = from; v < SD_NR_VDIS; v++) if (!this.s.vdis.isInuse(v)) return v;
    return -1;
  }

  /** Find a VDI by name (and snapshot tag or id): the probe of the original, scanning down. */
  async lookup(name: string, tag: string | undefined, snapid: number): Promise<LookupResult> {
    const recycle = (this.s.group.cinfo.flags & SD_CLUSTER_FLAG.RECYCLE_VID) !== 0;
    const hasTag = (tag !== undefined && tag !== '') || snapid !== 0;
    const st = { nameFound: false, vid: 0, nextSnapid: 0 };
    let left = vdiNameHash(name) || 1;
    let ranges: [number, number][];
    let freeSlot: number;
    if (recycle) {
      freeSlot = this.firstZeroBit(1);
      ranges = [[SD_NR_VDIS - 1, 1]];
      left = 1;
    } else {
      let right = this.firstZeroBit(left);
      if (right === left) return { result: SD_RES.NO_VDI, vid: 0, freeSlot: left, nextSnapid: 0 };
      if (right < 0) {
        right = this.firstZeroBit(1);
        if (right < 0 || right >= left) return { result: SD_RES.FULL_VDI, vid: 0, freeSlot: 0, nextSnapid: 0 };
        ranges = [[right - 1, 1], [SD_NR_VDIS - 1, left]];
      } else {
        ranges = [[right - 1, left]];
      }
      freeSlot = right;
    }
    if (freeSlot < 0) freeSlot = 0;
    let result: number = SD_RES.NO_VDI;
    for (const [hi, lo] of ranges) {
      for (let v = hi; v >= lo; v--) {
        if (!this.s.vdis.isInuse(v) && !VdiTable.testBit(this.s.vdis.deleted, v)) continue;
        let h: InodeHeader;
        try {
          h = await this.readHeader(v);
        } catch (e) {
          // a deleted VDI's inode may be gone; one in use that cannot be read is
          // unavailable (all its holders lost or cut off), and the lookup says so
          // as 1.0's does, rather than answer "no such VDI" (a create of the same
          // name would then make a second one)
          if (e instanceof SdError && e.code === SD_RES.NO_OBJ && !this.s.vdis.isInuse(v)) continue;
          throw e;
        }
        if (h.name !== name) continue;
        if (hasTag) {
          if (!isSnapshot(h)) {
            st.nameFound = true;
            st.vid = v;
            continue;
          }
          if ((h.tag !== '' && h.tag === tag) || (snapid !== 0 && h.snapId === snapid)) {
            return { result: SD_RES.SUCCESS, vid: v, freeSlot, nextSnapid: st.nextSnapid };
          }
          st.nameFound = true;
          continue;
        }
        st.nextSnapid = h.snapId + 1;
        if (isSnapshot(h)) {
          if (recycle && this.s.vdis.isInuse(v)) return { result: SD_RES.SUCCESS, vid: v, freeSlot, nextSnapid: st.nextSnapid };
          return { result: SD_RES.NO_VDI, vid: v, freeSlot, nextSnapid: st.nextSnapid };
        }
        return { result: SD_RES.SUCCESS, vid: v, freeSlot, nextSnapid: st.nextSnapid };
      }
      result = hasTag && st.nameFound ? SD_RES.NO_TAG : SD_RES.NO_VDI;
    }
    return { result, vid: st.vid, freeSlot, nextSnapid: st.nextSnapid };
  }

  private async announce(oldVid: number, newVid: number, copies: number, policy: number, shift: number): Promise<void> {
    const req = SdHeader.request(SD_OP.NOTIFY_VDI_ADD);
    req.stateOldVid = oldVid;
    req.stateNewVid = newVid;
    req.stateCopies = copies;
    req.stateCopyPolicy = policy;
    req.stateBlockSizeShift = shift;
    req.stateSetBitmap = 0;
    await this.s.runInternalClusterOp(req);
  }

  /** NEW_VDI work: create, clone (base given) or snapshot (snapid given). */
  async create(req: SdHeader, name: string): Promise<{ vid: number; copies: number; shift: number }> {
    const ci = this.s.group.cinfo;
    let copies = req.vdiCopies;
    let policy = req.vdiCopyPolicy;
    if (copies === 0) {
      copies = ci.nrCopies;
      policy = ci.copyPolicy;
    }
    if (policy !== 0) copies = (policy >> 4) * 2 + (policy & 0x0f);
    const shift = req.vdiBlockSizeShift || ci.blockSizeShift || 22;
    const base = req.vdiBaseVid;
    const r = await this.lookup(name, undefined, 0);
    if (req.vdiSnapid !== 0) return this.snapshot(req, name, r);
    if (r.result === SD_RES.SUCCESS) throw new SdError(SD_RES.VDI_EXIST);
    if (r.result !== SD_RES.NO_VDI) throw new SdError(r.result);
    const newVid = r.freeSlot;
    const snapId = r.nextSnapid || 1;
    await this.announce(base || r.vid, newVid, copies, policy, shift);
    const header: InodeHeader = {
      name, tag: '', createTime: nowCtime(), snapCtime: 0n, vmClockNsec: 0n, vdiSize: Number(req.vdiSize),
      vmStateSize: 0n, copyPolicy: policy, storePolicy: req.vdiStorePolicy, nrCopies: copies,
      blockSizeShift: shift, snapId, vdiId: newVid, parentVdiId: base, btreeCounter: 0,
    };
    if (base === 0) {
      // any failure to store the new inode is VDI_WRITE, as the original answers
      await this.writeInode({ header, index: new Uint32Array(0), gref: new Int32Array(0) }, true, copies)
        .catch(failsAs(SD_RES.VDI_WRITE));
      return { vid: newVid, copies, shift };
    }
    const parent = await this.readInode(base).catch(() => { throw new SdError(SD_RES.BASE_VDI_READ); });
    const root = parent.header.storePolicy === 1 ? await this.hyperRoot(base) : undefined;
    if (!root) await this.shareWith(parent).catch(() => { throw new SdError(SD_RES.BASE_VDI_WRITE); });
    if (root) header.btreeCounter = await this.copyLeaves(root, newVid, copies).catch(failsAs(SD_RES.VDI_WRITE));
    await this.writeInode(childOf(parent, header), true, copies, root)
      .catch(() => { throw new SdError(SD_RES.VDI_WRITE); });
    return { vid: newVid, copies, shift };
  }

  /** Count one more sharer on every used slot of an inode and write its grefs back. */
  private async shareWith(img: InodeImage): Promise<void> {
    for (let i = 0; i < img.index.length; i++) if (img.index[i] !== 0) img.gref[2 * i + 1]! += 1;
    await this.writeGref(img, this.s.gateway.copies(vidToVdiOid(img.header.vdiId), 0));
  }

  private async snapshot(req: SdHeader, name: string, r: LookupResult): Promise<{ vid: number; copies: number; shift: number }> {
    if (r.result !== SD_RES.SUCCESS) throw new SdError(r.result);
    const w = r.vid;
    const newVid = r.freeSlot;
    const working = await this.readInode(w).catch(() => { throw new SdError(SD_RES.BASE_VDI_READ); });
    const hyper = working.header.storePolicy === 1;
    let root = hyper ? await this.hyperRoot(w) : undefined;
    const copies = working.header.nrCopies;
    const shift = working.header.blockSizeShift;
    await this.announce(w, newVid, copies, working.header.copyPolicy, shift);
    const now = nowCtime();
    let parent = working;
    if (req.vdiBaseVid === w || req.vdiBaseVid === 0) {
      working.header.snapCtime = now;
      for (let i = 0; i < working.index.length; i++) if (working.index[i] !== 0) working.gref[2 * i + 1]! += 1;
      await this.writeInode(working, false, copies).catch(() => { throw new SdError(SD_RES.BASE_VDI_WRITE); });
    } else {
      // a rollback: both writes fail as VDI_WRITE in the original
      working.header.snapCtime = now;
      await this.writeInode({ ...working, index: new Uint32Array(0), gref: new Int32Array(0) }, false, copies)
        .catch(failsAs(SD_RES.VDI_WRITE));
      parent = await this.readInode(req.vdiBaseVid).catch(() => { throw new SdError(SD_RES.BASE_VDI_READ); });
      if (hyper) root = await this.hyperRoot(req.vdiBaseVid);
      else await this.shareWith(parent).catch(failsAs(SD_RES.VDI_WRITE));
    }
    const header: InodeHeader = {
      ...parent.header, name, tag: '', createTime: now, snapCtime: 0n, vmClockNsec: 0n, vmStateSize: 0n,
      snapId: working.header.snapId + 1, vdiId: newVid, parentVdiId: parent.header.vdiId, btreeCounter: 0,
      vdiSize: working.header.vdiSize, nrCopies: copies, copyPolicy: working.header.copyPolicy, blockSizeShift: shift,
    };
    if (root) header.btreeCounter = await this.copyLeaves(root, newVid, copies).catch(failsAs(SD_RES.VDI_WRITE));
    await this.writeInode(childOf(parent, header), true, copies, root).catch(() => { throw new SdError(SD_RES.VDI_WRITE); });
    return { vid: newVid, copies, shift };
  }

  /**
   * The B-tree root of a hyper volume, for a snapshot or clone: its entries
   * point at the parent's objects, which the child copies on write (as a flat
   * index's slots do). At depth 2 copyLeaves gives the child leaves of its own.
   */
  private async hyperRoot(vid: number): Promise<Buffer> {
    const oid = vidToVdiOid(vid);
    const copies = this.s.gateway.copies(oid, 0);
    const h = await this.s.gateway.read({ ...io(oid, INODE_OFF.dataVdiId), copies }, BTREE_HEADER_SIZE);
    const used = nodeUsedBytes(readNodeHeader(h));
    if (h.readUInt16LE(0) !== BTREE_MAGIC) return emptyRoot();
    if (used === BTREE_HEADER_SIZE) return h;
    return this.s.gateway.read({ ...io(oid, INODE_OFF.dataVdiId), copies }, used);
  }

  /**
   * sd_inode_copy_vdis: a depth-2 root's leaves copied to leaf objects of
   * newVid (numbered from 0), `root` pointed at them; the child's btree_counter.
   */
  private async copyLeaves(root: Buffer, newVid: number, copies: number): Promise<number> {
    const h = readNodeHeader(root);
    if (h.magic !== BTREE_MAGIC || h.depth !== 2) return 0;
    for (let i = 0; i < h.entries; i++) {
      const at = BTREE_HEADER_SIZE + INDIRECT_ENTRY_SIZE * i + 8;
      const from = root.readBigUInt64LE(at);
      const head = await this.s.gateway.read({ ...io(from, 0), copies: this.s.gateway.copies(from, 0) }, BTREE_HEADER_SIZE);
      const leaf = await this.s.gateway.read({ ...io(from, 0), copies: this.s.gateway.copies(from, 0) }, nodeUsedBytes(readNodeHeader(head)));
      const to = vidToBtreeOid(newVid, i);
      await this.s.gateway.createAndWrite({ ...io(to, 0), copies }, leaf);
      root.writeBigUInt64LE(to, at);
    }
    return h.entries;
  }

  /**
   * Whether a VDI that is not deleted descends from vid (its snapshots and
   * clones, theirs, ...): their B-trees may point at vid's objects, which hyper
   * volumes do not reference-count.
   */
  private hasLiveDescendant(vid: number): boolean {
    const children = new Map<number, number[]>();
    for (const st of this.s.vdis.all()) {
      if (st.vid === st.parentVid) continue;
      const list = children.get(st.parentVid) ?? [];
      list.push(st.vid);
      children.set(st.parentVid, list);
    }
    const seen = new Set([vid]);
    const todo = [...(children.get(vid) ?? [])];
    while (todo.length > 0) {
      const v = todo.pop()!;
      if (seen.has(v)) continue;
      seen.add(v);
      if (!this.s.vdis.isDeleted(v)) return true;
      todo.push(...(children.get(v) ?? []));
    }
    return false;
  }

  /** DEL_VDI work: empty the inode (name, size, index, grefs); the vid stays allocated. */
  async delete(name: string, tag: string | undefined, snapid: number): Promise<number> {
    const r = await this.lookup(name, tag, snapid);
    if (r.result !== SD_RES.SUCCESS) throw new SdError(r.result);
    const vid = r.vid;
    const img = await this.readInode(vid);
    if (img.header.storePolicy !== 1 && img.index.some((v) => v !== 0)) {
      // the original leaves an inode whose index was not cleared first untouched
      this.s.log.warn('vdi', `deleting ${name} (${vid.toString(16)}) whose index still has objects: inode kept`);
      return vid;
    }
    const copies = img.header.nrCopies || this.s.gateway.copies(vidToVdiOid(vid), 0);
    if (img.header.storePolicy === 1) {
      if (this.hasLiveDescendant(vid)) {
        // its objects may be read through a snapshot's or clone's tree: keep them (a leak, never a loss)
        this.s.log.info('vdi', `deleting hyper volume ${name} (${vid.toString(16)}) whose descendants may share its objects: data objects kept`);
      }
      await this.removeHyperObjects(vid, copies, this.hasLiveDescendant(vid));
      return vid;
    }
    const cleared: InodeImage = {
      header: { ...img.header, name: '', vdiSize: 0 },
      index: new Uint32Array(0),
      gref: new Int32Array(0),
    };
    await this.writeInode(cleared, false, copies);
    if (img.gref.some((v) => v !== 0)) {
      await this.s.gateway.write({ ...io(vidToVdiOid(vid), grefOffset(0)), copies }, Buffer.alloc(4 * img.gref.length));
    }
    return vid;
  }

  /**
   * DEL_VDI of a hyper volume (no reference counting there): remove the data
   * objects (unless `keepData`: descendants may read them) and B-tree leaf
   * objects it owns (a leaf of another VDI stays), then clear the inode. The clearing write starts at offset 0 so that
   * the gateway does not read the B-tree bytes as index slots whose references
   * to drop.
   */
  private async removeHyperObjects(vid: number, copies: number, keepData: boolean): Promise<void> {
    const inode = vidToVdiOid(vid);
    const gone = (oid: bigint) => this.s.gateway.remove({ ...io(oid, 0), copies }).catch((e) => {
      if (!(e instanceof SdError) || e.code !== SD_RES.NO_OBJ) throw e;
    });
    /** The used bytes of the node at `at` in `oid` (header and entries), or undefined without the magic. */
    const node = async (oid: bigint, at: number): Promise<Buffer | undefined> => {
      const h = await this.s.gateway.read({ ...io(oid, at), copies }, BTREE_HEADER_SIZE);
      if (h.readUInt16LE(0) !== BTREE_MAGIC) return undefined;
      const used = nodeUsedBytes(readNodeHeader(h));
      return used === BTREE_HEADER_SIZE ? h : this.s.gateway.read({ ...io(oid, at), copies }, used);
    };
    const removeData = async (leaf: Buffer): Promise<void> => {
      if (keepData) return;
      const n = leaf.readUInt32LE(4);
      for (let i = 0; i < n; i++) {
        const at = BTREE_HEADER_SIZE + LEAF_ENTRY_SIZE * i;
        if (leaf.readUInt32LE(at + 4) === vid) await gone(vidToDataOid(vid, leaf.readUInt32LE(at)));
      }
    };
    const root = await node(inode, INODE_OFF.dataVdiId);
    let used = BTREE_HEADER_SIZE;
    if (root) {
      used = root.length;
      if (root.readUInt16LE(2) === 2) {
        for (let i = 0; i < root.readUInt32LE(4); i++) {
          const leafOid = root.readBigUInt64LE(BTREE_HEADER_SIZE + INDIRECT_ENTRY_SIZE * i + 8);
          if (oidToVid(leafOid) !== vid) continue;
          const leaf = await node(leafOid, 0);
          if (leaf) await removeData(leaf);
          await gone(leafOid);
        }
      } else {
        await removeData(root);
      }
    }
    const img = await this.readInode(vid);
    const b = Buffer.alloc(SD_INODE_HEADER_SIZE + Math.min(used, SD_INODE_DATA_INDEX * 4));
    encodeInodeHeader({ ...img.header, name: '', vdiSize: 0 }, b);
    await this.s.gateway.write({ ...io(inode, 0), copies }, b);
  }
}

/** A catch handler that reports a failed request as `code`; bugs pass through. */
function failsAs(code: number): (e: unknown) => never {
  return (e) => {
    if (e instanceof SdError) throw new SdError(code);
    throw e;
  };
}

/** A new inode sharing every object of its parent: same index, next generation. */
function childOf(parent: InodeImage, header: InodeHeader): InodeImage {
  const n = parent.index.length;
  const index = Uint32Array.from(parent.index);
  const gref = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    if (index[i] !== 0) gref[2 * i] = parent.gref[2 * i]! + 1;
  }
  return { header, index, gref };
}

/** Offsets in sheepdog_vdi_attr (protocol.md §7.6). */
const ATTR_OFF = VDI_ATTR_OFF;
/** name, tag, ctime, snap_id, value_len and key: what a probe reads of an attribute object. */
const ATTR_HEADER_SIZE = ATTR_OFF.value;

/** Same (name, tag, snap_id, key) in two sheepdog_vdi_attr images. */
function sameAttrKey(a: Buffer, b: Buffer): boolean {
  const eq = (from: number, to: number) => a.subarray(from, to).equals(b.subarray(from, to));
  return eq(ATTR_OFF.name, ATTR_OFF.ctime) && eq(ATTR_OFF.snapId, ATTR_OFF.valueLen) && eq(ATTR_OFF.key, ATTR_OFF.value);
}

export interface AttrFlags {
  creat: boolean;
  excl: boolean;
  del: boolean;
}

/**
 * GET_VDI_ATTR work: find the attribute object of (name, tag, snap id, key),
 * creating, replacing or deleting it as the flags ask. Objects are named by
 * the VDI name's hash (not its vid) and an FNV-1a of the key fields, probed
 * upwards until a free id. Like the original, a non-exclusive create takes the
 * first probed id without looking.
 */
export async function vdiAttr(
  m: VdiManager, s: VdiDeps, attr: Buffer, snapid: number, f: AttrFlags,
): Promise<{ vid: number; attrId: number; copies: number }> {
  const name = readCString(attr, ATTR_OFF.name, SD_MAX_VDI_LEN);
  const tag = readCString(attr, ATTR_OFF.tag, SD_MAX_VDI_LEN);
  const r = await m.lookup(name, tag, snapid);
  if (r.result !== SD_RES.SUCCESS) throw new SdError(r.result);
  const h = await m.readHeader(r.vid);
  attr.writeBigUInt64LE(h.createTime, ATTR_OFF.ctime);
  const nul = attr.indexOf(0, ATTR_OFF.name);
  const nameVid = Number(fnv1a64(attr.subarray(ATTR_OFF.name, nul < 0 || nul > ATTR_OFF.tag ? ATTR_OFF.tag : nul)) & 0xffffffn);
  const keyHash = fnv1a64(Buffer.concat([
    attr.subarray(ATTR_OFF.name, ATTR_OFF.ctime), attr.subarray(ATTR_OFF.snapId, ATTR_OFF.valueLen),
    attr.subarray(ATTR_OFF.key, ATTR_OFF.value),
  ]));
  const first = Number(keyHash & 0xffffffffn);
  const copies = s.gateway.copies(vidToAttrOid(nameVid, first), 0);
  for (let n = 0; n < 2 ** 32; n++) {
    const attrId = (first + n) >>> 0;
    const target = { ...io(vidToAttrOid(nameVid, attrId), 0), copies };
    const done = { vid: nameVid, attrId, copies };
    if (f.creat && !f.excl && !f.del) {
      await s.gateway.createAndWrite(target, attr);
      return done;
    }
    let found: Buffer;
    try {
      found = await s.gateway.read(target, ATTR_HEADER_SIZE);
    } catch (e) {
      if (!(e instanceof SdError) || e.code !== SD_RES.NO_OBJ) throw e;
      if (!f.creat) throw e;
      await s.gateway.createAndWrite(target, attr);
      return done;
    }
    if (!sameAttrKey(found, attr)) continue;
    if (f.excl) throw new SdError(SD_RES.VDI_EXIST);
    if (f.del) await s.gateway.write(target, Buffer.alloc(1));
    else if (f.creat) await s.gateway.createAndWrite(target, attr);
    return done;
  }
  throw new SdError(SD_RES.FULL_VDI);
}
