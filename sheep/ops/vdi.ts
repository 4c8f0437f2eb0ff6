import { SdError } from '../../shared/errors.js';
import { readCString } from '../../shared/inode.js';
import { oidToVid, SD_ATTR_OBJ_SIZE, SD_MAX_VDI_LEN, SD_NR_VDIS } from '../../shared/oid.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { encodeVdiState, VDI_STATE_SIZE } from '../../shared/proto/vdi-state.js';
import { SD_CLUSTER_FLAG, SD_FLAG } from '../../shared/proto/flags.js';
import { vdiAttr } from '../vdi.js';
import type { OpContext, OpHandler, OpTable } from './types.js';

const BITMAP_BYTES = SD_NR_VDIS / 8;

/** Name (and tag) of a lookup payload: 256 bytes, or 256 + 256 with a tag. */
function nameAndTag(data: Buffer | undefined, allowTag: boolean): { name: string; tag: string | undefined } {
  if (!data || (data.length !== SD_MAX_VDI_LEN && !(allowTag && data.length === 2 * SD_MAX_VDI_LEN))) {
    throw new SdError(SD_RES.INVALID_PARMS, 'a VDI name is a 256-byte field (plus a 256-byte tag)');
  }
  const name = readCString(data, 0, SD_MAX_VDI_LEN);
  const tag = data.length > SD_MAX_VDI_LEN ? readCString(data, SD_MAX_VDI_LEN, SD_MAX_VDI_LEN) : undefined;
  return { name, tag };
}

const getVdiInfo: OpHandler = async (s, req, data, rsp) => {
  const { name, tag } = nameAndTag(data, true);
  const r = await s.vdiManager.lookup(name, tag, req.vdiSnapid);
  if (r.result !== SD_RES.SUCCESS) throw new SdError(r.result);
  fillVdiReply(s, rsp, r.vid);
};

function fillVdiReply(s: OpContext, rsp: SdHeader, vid: number): void {
  const info = s.vdis.get(vid);
  rsp.rspVdiId = vid;
  rsp.rspVdiCopies = info?.nrCopies ?? s.group.cinfo.nrCopies;
  rsp.rspVdiBlockSizeShift = info?.blockSizeShift || s.group.cinfo.blockSizeShift;
}

const useLock = (s: OpContext): boolean => (s.group.cinfo.flags & SD_CLUSTER_FLAG.USE_LOCK) !== 0;

function bitmapReply(req: SdHeader, map: Buffer): Buffer {
  if (req.dataLength !== BITMAP_BYTES) throw new SdError(SD_RES.INVALID_PARMS, 'a VDI bitmap is 2 MiB');
  return Buffer.from(map);
}

/** VDI lifecycle ops. */
export const vdiOps: OpTable = {
  [SD_OP.NEW_VDI]: {
    kind: 'cluster',
    async work(s, req, data, rsp) {
      const { name } = nameAndTag(data, false);
      if (name === '') throw new SdError(SD_RES.INVALID_PARMS, 'empty VDI name');
      const r = await s.vdiManager.create(req, name);
      rsp.rspVdiId = r.vid;
      rsp.rspVdiCopies = r.copies;
      rsp.rspVdiBlockSizeShift = r.shift;
    },
    async main(s, _req, rsp) {
      await s.vdis.markInuse(rsp.rspVdiId);
    },
  },
  [SD_OP.GET_VDI_INFO]: { kind: 'cluster', work: getVdiInfo },
  // without the cluster's lock flag, LOCK_VDI is a lookup and RELEASE_VDI does nothing
  [SD_OP.LOCK_VDI]: {
    kind: 'cluster',
    async work(s, req, data, rsp) {
      await getVdiInfo(s, req, data, rsp);
      // checked here, under the cluster block, so that every sheep's main part agrees
      if (useLock(s)) s.vdis.checkLock(rsp.rspVdiId, req.vdiType);
    },
    main(s, req, rsp, _data, sender) {
      if (useLock(s)) s.vdis.lock(rsp.rspVdiId, req.vdiType, sender);
    },
  },
  [SD_OP.RELEASE_VDI]: {
    kind: 'cluster',
    async work() { /* always succeeds */ },
    main(s, req, _rsp, _data, sender) {
      if (useLock(s)) s.vdis.unlock(req.vdiBaseVid, req.vdiType, sender);
    },
  },
  [SD_OP.DEL_VDI]: {
    kind: 'cluster',
    async work(s, req, data, rsp) {
      const { name, tag } = nameAndTag(data, true);
      rsp.rspVdiId = await s.vdiManager.delete(name, tag, req.vdiSnapid);
    },
    async main(s, _req, rsp) {
      await s.vdis.markDeleted(rsp.rspVdiId);
      if (s.group.cinfo.flags & SD_CLUSTER_FLAG.RECYCLE_VID) await s.collectVids(rsp.rspVdiId);
    },
  },
  [SD_OP.NOTIFY_VDI_ADD]: {
    kind: 'cluster',
    force: true,
    async main(s, req) {
      await s.vdis.add(req.stateNewVid, {
        nrCopies: req.stateCopies, copyPolicy: req.stateCopyPolicy, blockSizeShift: req.stateBlockSizeShift,
        parentVid: req.stateOldVid,
      }, req.stateOldVid, req.stateSetBitmap !== 0);
    },
  },
  [SD_OP.NOTIFY_VDI_DEL]: { kind: 'cluster', force: true, main() { /* object lists are not cached per VDI */ } },
  [SD_OP.READ_VDIS]: { kind: 'local', force: true, async handle(s, req) { return bitmapReply(req, s.vdis.inuse); } },
  [SD_OP.READ_DEL_VDIS]: { kind: 'local', force: true, async handle(s, req) { return bitmapReply(req, s.vdis.deleted); } },
  [SD_OP.FLUSH_VDI]: {
    kind: 'local',
    async handle(s, req) {
      // with -w: write back the VDI's cached objects
      if (s.cache) return void (await s.cache.flush(oidToVid(req.objOid)));
      // tells QEMU to stop sending flushes: every acknowledged write is already durable
      throw new SdError(SD_RES.INVALID_PARMS);
    },
  },
  [SD_OP.GET_VDI_ATTR]: {
    kind: 'cluster',
    async work(s, req, data, rsp) {
      if (!data || data.length !== SD_ATTR_OBJ_SIZE) throw new SdError(SD_RES.INVALID_PARMS, 'a VDI attribute is 66320 bytes');
      const f = req.flags;
      const r = await vdiAttr(s.vdiManager, s, Buffer.from(data), req.vdiSnapid, {
        creat: (f & SD_FLAG.CMD_CREAT) !== 0, excl: (f & SD_FLAG.CMD_EXCL) !== 0, del: (f & SD_FLAG.CMD_DEL) !== 0,
      });
      rsp.rspVdiId = r.vid;
      rsp.rspAttrId = r.attrId;
      rsp.rspVdiCopies = r.copies;
    },
  },
  // dog vdi check: copy the whole object from the node that holds the majority copy
  [SD_OP.REPAIR_REPLICA]: {
    kind: 'local',
    async handle(s, req) {
      const oid = req.forwOid;
      const src = s.group.members.find((n) => n.port === req.forwPort && n.addr.equals(req.forwAddr));
      if (!src) throw new SdError(SD_RES.INVALID_PARMS, 'the repair source is not a member');
      const size = s.gateway.objSize(oid);
      const read = SdHeader.request(SD_OP.READ_PEER, 0, size);
      read.epoch = req.epoch || s.group.epoch;
      read.objOid = oid;
      const r = await s.gateway.peer(src, read);
      const create = SdHeader.request(SD_OP.CREATE_AND_WRITE_PEER, SD_FLAG.CMD_WRITE, r.data.length);
      create.epoch = s.group.epoch;
      create.objOid = oid;
      await s.peerLocal(create, r.data);
    },
  },
  [SD_OP.GET_CLUSTER_DEFAULT]: {
    kind: 'local',
    force: true,
    async handle(s, _req, _data, rsp) {
      const ci = s.group.cinfo;
      rsp.rspDefaultCopies = ci.nrCopies;
      rsp.rspDefaultCopyPolicy = ci.copyPolicy;
      rsp.rspDefaultBlockSizeShift = ci.blockSizeShift;
    },
  },
  [SD_OP.GET_VDI_COPIES]: {
    kind: 'local',
    force: true,
    async handle(s, req) {
      const states = s.vdis.all();
      if (states.length * VDI_STATE_SIZE > req.dataLength) throw new SdError(SD_RES.BUFFER_SMALL);
      const out = Buffer.alloc(states.length * VDI_STATE_SIZE);
      states.forEach((st, i) => encodeVdiState(st, out, i * VDI_STATE_SIZE));
      return out;
    },
  },
};
