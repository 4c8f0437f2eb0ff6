import { SdError } from '../../shared/errors.js';
import { readCString } from '../../shared/inode.js';
import { SD_MAX_VDI_LEN, SD_NR_VDIS } from '../../shared/oid.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { encodeVdiState, VDI_STATE_SIZE } from '../../shared/proto/vdi-state.js';
import type { Sheep } from '../sheep.js';
import type { OpHandler, OpTable } from './types.js';

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

function fillVdiReply(s: Sheep, rsp: SdHeader, vid: number): void {
  const info = s.vdis.get(vid);
  rsp.rspVdiId = vid;
  rsp.rspVdiCopies = info?.nrCopies ?? s.group.cinfo.nrCopies;
  rsp.rspVdiBlockSizeShift = info?.blockSizeShift || s.group.cinfo.blockSizeShift;
}

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
  // without the cluster's lock flag, LOCK_VDI is a lookup
  [SD_OP.LOCK_VDI]: { kind: 'cluster', work: getVdiInfo },
  [SD_OP.RELEASE_VDI]: { kind: 'cluster', async work() { /* locks are advisory here */ } },
  [SD_OP.DEL_VDI]: {
    kind: 'cluster',
    async work(s, req, data, rsp) {
      const { name, tag } = nameAndTag(data, true);
      rsp.rspVdiId = await s.vdiManager.delete(name, tag, req.vdiSnapid);
    },
    async main(s, _req, rsp) {
      await s.vdis.markDeleted(rsp.rspVdiId);
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
    async handle() {
      // tells QEMU to stop sending flushes: every acknowledged write is already durable
      throw new SdError(SD_RES.INVALID_PARMS);
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
