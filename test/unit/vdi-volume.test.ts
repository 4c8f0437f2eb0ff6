/**
 * The VDI byte-range mapping (shared/vdi-volume.ts) against an in-memory
 * gateway: objects created once however many writes race for them,
 * copy-on-write from a parent, discard of whole objects in one index write,
 * and a VDI followed by name through a snapshot (FollowedVdi).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeInodeHeader, INODE_OFF, newInodeBuffer, type InodeHeader } from '../../shared/inode.js';
import type { Gatewayed } from '../../shared/object-io.js';
import { isDataObj, oidToVid, vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { FollowedVdi, VdiVolume } from '../../shared/vdi-volume.js';

const OBJ = 1 << 16; // 64 KiB objects keep the test small
const VID = 0x100;
const PARENT = 0x0ff;

/** Objects in a Map; every request is logged; replies come after a tick so that requests overlap. */
class FakeGateway implements Gatewayed {
  readonly objects = new Map<bigint, Buffer>();
  readonly log: string[] = [];
  /** vids that are snapshots: data writes to them are refused, as the gateway does */
  readonly snapshots = new Set<number>();
  /** the working vid GET_VDI_INFO answers */
  current = VID;

  async request(req: SdHeader, payload?: Buffer): Promise<{ hdr: SdHeader; data: Buffer }> {
    await new Promise((r) => setImmediate(r));
    const oid = req.objOid;
    const rsp = SdHeader.responseTo(req, SD_RES.SUCCESS, 1);
    const size = isDataObj(oid) ? OBJ : newInodeBuffer().length;
    if (req.opcode === SD_OP.GET_VDI_INFO) {
      this.log.push('lookup');
      rsp.rspVdiId = this.current;
      return { hdr: rsp, data: Buffer.alloc(0) };
    }
    if ((req.opcode === SD_OP.WRITE_OBJ || req.opcode === SD_OP.CREATE_AND_WRITE_OBJ) && isDataObj(oid) && this.snapshots.has(oidToVid(oid))) {
      this.log.push(`refused ${oid.toString(16)}`);
      return { hdr: SdHeader.responseTo(req, SD_RES.READONLY, 1), data: Buffer.alloc(0) };
    }
    const name = `${oid.toString(16)}@${req.objOffset}+${payload?.length ?? req.dataLength}`;
    switch (req.opcode) {
      case SD_OP.READ_OBJ: {
        const o = this.objects.get(oid);
        if (!o) return { hdr: SdHeader.responseTo(req, SD_RES.NO_OBJ, 1), data: Buffer.alloc(0) };
        return { hdr: rsp, data: Buffer.from(o.subarray(req.objOffset, req.objOffset + req.dataLength)) };
      }
      case SD_OP.CREATE_AND_WRITE_OBJ: {
        this.log.push(`create ${name}${(req.flags & SD_FLAG.CMD_COW) ? ` cow ${req.objCowOid.toString(16)}` : ''}`);
        const base = (req.flags & SD_FLAG.CMD_COW) ? Buffer.from(this.objects.get(req.objCowOid)!) : Buffer.alloc(size);
        payload!.copy(base, req.objOffset);
        this.objects.set(oid, base);
        return { hdr: rsp, data: Buffer.alloc(0) };
      }
      case SD_OP.WRITE_OBJ: {
        this.log.push(`write ${name}`);
        const o = this.objects.get(oid);
        if (!o) return { hdr: SdHeader.responseTo(req, SD_RES.NO_OBJ, 1), data: Buffer.alloc(0) };
        payload!.copy(o, req.objOffset);
        return { hdr: rsp, data: Buffer.alloc(0) };
      }
      case SD_OP.REMOVE_OBJ: {
        this.log.push(`remove ${oid.toString(16)}`);
        if (!this.objects.delete(oid)) return { hdr: SdHeader.responseTo(req, SD_RES.NO_OBJ, 1), data: Buffer.alloc(0) };
        return { hdr: rsp, data: Buffer.alloc(0) };
      }
      default:
        throw new Error(`unexpected opcode ${req.opcode}`);
    }
  }
}

function vdi(gw: FakeGateway, slots: number[], storePolicy = 0, vid = VID): void {
  const h: InodeHeader = {
    name: 'v', tag: '', createTime: 1n, snapCtime: 0n, vmClockNsec: 0n, vdiSize: slots.length * OBJ, vmStateSize: 0n,
    copyPolicy: 0, storePolicy, nrCopies: 1, blockSizeShift: 16, snapId: 1, vdiId: vid, parentVdiId: 0, btreeCounter: 0,
  };
  const inode = newInodeBuffer();
  encodeInodeHeader(h, inode);
  if (storePolicy === 0) slots.forEach((v, i) => inode.writeUInt32LE(v, INODE_OFF.dataVdiId + 4 * i));
  gw.objects.set(vidToVdiOid(vid), inode);
}

test('racing writes to one unallocated object create it once; the rest write into it', async () => {
  const gw = new FakeGateway();
  vdi(gw, [0, 0, 0, 0]);
  const v = new VdiVolume(gw, VID, false, { cache: false });
  await v.refresh();
  await Promise.all([0, 1, 2, 3].map((i) => v.write(Buffer.alloc(512, i + 1), OBJ + 1024 * i)));
  const creates = gw.log.filter((l) => l.startsWith('create'));
  assert.equal(creates.length, 1, gw.log.join('\n'));
  assert.is(gw.log.filter((l) => l.startsWith(`write ${vidToDataOid(VID, 1).toString(16)}`)).length, 3);
  const back = await v.read(4 * 1024, OBJ);
  for (let i = 0; i < 4; i++) assert.ok(back.subarray(1024 * i, 1024 * i + 512).equals(Buffer.alloc(512, i + 1)));
  assert.is(gw.objects.get(vidToVdiOid(VID))!.readUInt32LE(INODE_OFF.dataVdiId + 4), VID, 'the slot points at the new object');
});

test('a write to a parent\'s object copies it first; reads of unallocated objects are zeros without a request', async () => {
  const gw = new FakeGateway();
  vdi(gw, [PARENT, 0]);
  gw.objects.set(vidToDataOid(PARENT, 0), Buffer.alloc(OBJ, 0x70));
  const v = new VdiVolume(gw, VID, false, { cache: false });
  await v.refresh();
  await v.write(Buffer.alloc(10, 0x71), 5);
  assert.equal(gw.log.filter((l) => l.startsWith('create')), [`create ${vidToDataOid(VID, 0).toString(16)}@5+10 cow ${vidToDataOid(PARENT, 0).toString(16)}`]);
  const d = await v.read(20, 0);
  assert.ok(d.equals(Buffer.concat([Buffer.alloc(5, 0x70), Buffer.alloc(10, 0x71), Buffer.alloc(5, 0x70)])));
  const n = gw.log.length;
  assert.ok((await v.read(OBJ, OBJ)).equals(Buffer.alloc(OBJ)));
  assert.is(gw.log.length, n);
});

test('discard zeroes the slots of whole objects in one index write; write-zeroes also clears partial ones', async () => {
  const gw = new FakeGateway();
  vdi(gw, [0, 0, 0, 0]);
  const v = new VdiVolume(gw, VID, false, { cache: false });
  await v.refresh();
  await v.write(Buffer.alloc(4 * OBJ, 0x33), 0);
  gw.log.length = 0;
  await v.discard(2 * OBJ + OBJ / 2, OBJ / 2, false); // object 0 half, 1 and 2 whole
  assert.equal(gw.log, [`write ${vidToVdiOid(VID).toString(16)}@${INODE_OFF.dataVdiId + 4}+8`]);
  assert.ok((await v.read(OBJ / 2, 0)).equals(Buffer.alloc(OBJ / 2, 0x33)), 'a trim leaves partial objects alone');
  assert.ok((await v.read(2 * OBJ, OBJ)).equals(Buffer.alloc(2 * OBJ)));
  await v.discard(OBJ, OBJ / 2, true);
  assert.ok((await v.read(OBJ, 0)).equals(Buffer.concat([Buffer.alloc(OBJ / 2, 0x33), Buffer.alloc(OBJ / 2)])));
  // a new write after the discard creates the object again
  await v.write(Buffer.alloc(4, 0x44), OBJ);
  assert.ok((await v.read(4, OBJ)).equals(Buffer.alloc(4, 0x44)));
});

test('a hyper volume: writes far apart grow a two-level B-tree; discard removes its own objects', async () => {
  process.env.SHEEPDOG_TEST_BTREE_LEAF_ENTRIES = '4';
  try {
    const gw = new FakeGateway();
    vdi(gw, new Array<number>(1 << 20).fill(0), 1);
    const v = new VdiVolume(gw, VID, false, { cache: false });
    await v.refresh();
    const idxs = [900_000, 7, 123_456, 5, 1_000_000, 64, 300_000, 9, 77_777, 500_000, 2, 600_001];
    await Promise.all(idxs.map((idx, k) => v.write(Buffer.alloc(100, k + 1), idx * OBJ + 10)));
    const root = gw.objects.get(vidToVdiOid(VID))!;
    assert.equal([root.readUInt16LE(INODE_OFF.dataVdiId), root.readUInt16LE(INODE_OFF.dataVdiId + 2)], [0x6274, 2]);
    for (const fresh of [v, new VdiVolume(gw, VID, false, { cache: false })]) {
      await fresh.refresh();
      for (const [k, idx] of idxs.entries()) {
        assert.ok((await fresh.read(110, idx * OBJ)).equals(Buffer.concat([Buffer.alloc(10), Buffer.alloc(100, k + 1)])), `idx ${idx}`);
      }
      assert.not.ok(fresh.allocated(8));
    }
    await v.discard(OBJ, 7 * OBJ, false);
    assert.not.ok(v.allocated(7));
    assert.not.ok(gw.objects.has(vidToDataOid(VID, 7)), 'the discarded object is removed');
    assert.ok((await v.read(10, 7 * OBJ + 10)).equals(Buffer.alloc(10)));
    const again = new VdiVolume(gw, VID, false, { cache: false });
    await again.refresh();
    assert.not.ok(again.allocated(7));
    assert.ok(again.allocated(5));
  } finally {
    delete process.env.SHEEPDOG_TEST_BTREE_LEAF_ENTRIES;
  }
});

test('a read-only volume refuses writes and discards with READONLY', async () => {
  const gw = new FakeGateway();
  vdi(gw, [0]);
  const v = new VdiVolume(gw, VID, true, { cache: false });
  await v.refresh();
  for (const p of [v.write(Buffer.alloc(1), 0), v.discard(OBJ, 0, false)]) {
    const code = await p.then(() => 0, (e: { code?: number }) => e.code);
    assert.is(code, SD_RES.READONLY);
  }
});

test('a followed VDI moves to its new working vid when a snapshot refuses its writes, once for all racing writes', async () => {
  const NEW = 0x101;
  const gw = new FakeGateway();
  vdi(gw, [VID, 0]);
  gw.objects.set(vidToDataOid(VID, 0), Buffer.alloc(OBJ, 1));
  const make = (vid: number): VdiVolume => new VdiVolume(gw, vid, false, { cache: false });
  const moves: number[] = [];
  const f = new FollowedVdi(gw, 'v', make(VID), make, (vid) => moves.push(vid));
  await f.volume.refresh();
  // the snapshot: VID is frozen, NEW shares its objects
  vdi(gw, [VID, 0], 0, NEW);
  gw.snapshots.add(VID);
  gw.current = NEW;
  await Promise.all([0, 1, 2].map((i) => f.io((v) => v.write(Buffer.alloc(512, 10 + i), 1024 * i))));
  assert.is(f.volume.vid, NEW);
  assert.equal(moves, [NEW]);
  assert.is(gw.log.filter((l) => l === 'lookup').length, 1, gw.log.join('\n'));
  assert.is(gw.log.filter((l) => l.startsWith('create')).length, 1, 'one copy-on-write of the shared object');
  assert.ok(gw.objects.get(vidToDataOid(VID, 0))!.equals(Buffer.alloc(OBJ, 1)), 'the snapshot keeps its data');
  const back = await f.io((v) => v.read(3 * 1024, 0));
  for (let i = 0; i < 3; i++) assert.ok(back.subarray(1024 * i, 1024 * i + 512).equals(Buffer.alloc(512, 10 + i)));
  assert.ok(back.subarray(512, 1024).equals(Buffer.alloc(512, 1)), 'the rest of the object comes from the snapshot');
});

test('an object whose slot the snapshot missed (set while it was taken) is copied into the new working vid', async () => {
  const NEW = 0x101;
  const gw = new FakeGateway();
  vdi(gw, [0, 0]);
  const make = (vid: number): VdiVolume => new VdiVolume(gw, vid, false, { cache: false });
  const f = new FollowedVdi(gw, 'v', make(VID), make);
  await f.volume.refresh();
  // the snapshot copies the index before the write sets slot 1; the write is acknowledged
  vdi(gw, [0, 0], 0, NEW);
  await f.io((v) => v.write(Buffer.alloc(512, 7), OBJ + 512));
  gw.snapshots.add(VID);
  gw.current = NEW;
  await f.io((v) => v.write(Buffer.alloc(512, 8), 0));
  assert.is(f.volume.vid, NEW);
  assert.is(gw.objects.get(vidToVdiOid(NEW))!.readUInt32LE(INODE_OFF.dataVdiId + 4), NEW, 'slot 1 points at a copy of its own');
  const back = await f.io((v) => v.read(1024, OBJ));
  assert.ok(back.subarray(512).equals(Buffer.alloc(512, 7)), 'the acknowledged write is in the working VDI');
  assert.ok((await f.io((v) => v.read(512, 0))).equals(Buffer.alloc(512, 8)));
});

test('a followed snapshot (read-only) never moves: READONLY is the answer', async () => {
  const gw = new FakeGateway();
  vdi(gw, [VID]);
  const make = (vid: number): VdiVolume => new VdiVolume(gw, vid, true, { cache: false });
  const f = new FollowedVdi(gw, 'v', make(VID), make);
  await f.volume.refresh();
  gw.current = 0x101;
  try {
    await f.io((v) => v.write(Buffer.alloc(512), 0));
    assert.unreachable('the write was taken');
  } catch (e) {
    assert.is((e as { code?: number }).code, SD_RES.READONLY);
  }
  assert.is(f.volume.vid, VID);
  assert.not.ok(gw.log.includes('lookup'));
});

test.run();
