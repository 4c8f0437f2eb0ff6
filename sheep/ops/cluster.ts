import { SdError } from '../../shared/errors.js';
import { readCString } from '../../shared/inode.js';
import {
  CLUSTER_INFO_SIZE, encodeClusterInfo, encodeEpochLog, epochLogStride,
} from '../../shared/proto/cluster-info.js';
import { SD_STATUS } from '../../shared/proto/flags.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { OpContext, OpTable } from './types.js';

/** Store drivers this sheep can format with (GET_STORE_LIST, MAKE_FS). */
/** The store drivers, in the order the original lists them. */
export const STORE_DRIVERS = ['tree', 'plain'];

/** The STAT_CLUSTER result: data is sent whatever the status. */
function statusResult(s: OpContext): number {
  switch (s.group.status) {
    case SD_STATUS.OK: return SD_RES.SUCCESS;
    case SD_STATUS.SHUTDOWN: return SD_RES.SHUTDOWN;
    case SD_STATUS.KILLED: return SD_RES.KILLED;
    default: return s.group.formatted ? SD_RES.WAIT_FOR_JOIN : SD_RES.WAIT_FOR_FORMAT;
  }
}

/** Cluster-wide administration ops. */
export const clusterAdminOps: OpTable = {
  [SD_OP.MAKE_FS]: {
    kind: 'cluster',
    force: true,
    async main(s, req, _rsp, data) {
      const store = data ? readCString(data, 0, data.length) : 'plain';
      if (!STORE_DRIVERS.includes(store)) throw new SdError(SD_RES.NO_STORE);
      await s.format({
        ctime: req.clusterCtime,
        flags: req.clusterFlags,
        nrCopies: req.clusterCopies || 3,
        copyPolicy: req.clusterCopyPolicy,
        blockSizeShift: req.clusterBlockSizeShift || 22,
        defaultStore: store,
      });
    },
  },
  [SD_OP.SHUTDOWN]: {
    kind: 'cluster',
    force: true,
    async main(s) {
      await s.clusterShutdown();
    },
  },
  [SD_OP.STAT_CLUSTER]: {
    kind: 'local',
    force: true,
    async handle(s, req, _data, rsp) {
      rsp.result = statusResult(s);
      const latest = s.group.formatted ? s.group.epoch : 0;
      const nodesNr = req.clusterNodesNr;
      const stride = epochLogStride(nodesNr);
      const fit = Math.min(latest, Math.floor(req.dataLength / stride));
      const out = Buffer.alloc(fit * stride);
      const ci = s.group.cinfo;
      for (let k = 0; k < fit; k++) {
        const epoch = latest - k;
        const rec = await s.epochRecord(epoch);
        if (!rec) break;
        if (nodesNr > 0 && rec.nodes.length > nodesNr) {
          rsp.result = SD_RES.BUFFER_SMALL;
          return undefined;
        }
        const first = k === 0;
        encodeEpochLog({
          ctime: first ? ci.ctime : 0n, time: rec.time, epoch, nodes: rec.nodes,
          disableRecovery: first && ci.disableRecovery, nrCopies: first ? ci.nrCopies : 0,
          copyPolicy: first ? ci.copyPolicy : 0, flags: first ? ci.flags : 0, drvName: first ? ci.defaultStore : '',
        }, nodesNr, out, k * stride);
      }
      return out;
    },
  },
  [SD_OP.CLUSTER_INFO]: {
    kind: 'local',
    force: true,
    async handle(s, req) {
      const full = encodeClusterInfo(s.group.cinfo, true);
      return full.subarray(0, Math.min(CLUSTER_INFO_SIZE, req.dataLength));
    },
  },
  [SD_OP.GET_STORE_LIST]: {
    kind: 'local',
    force: true,
    async handle(_s, req) {
      const text = Buffer.from(`${STORE_DRIVERS.join(' ')} \0`);
      return text.subarray(0, Math.min(text.length, req.dataLength));
    },
  },
  [SD_OP.ALTER_CLUSTER_COPY]: {
    kind: 'cluster',
    async main(s, req) {
      if (req.clusterCopyPolicy !== 0) throw new SdError(SD_RES.INVALID_PARMS);
      s.group.cinfo.nrCopies = req.clusterCopies;
      await s.saveConfig();
    },
  },
  [SD_OP.ALTER_VDI_COPY]: {
    kind: 'cluster',
    async main(s, req) {
      if (req.buf[33] !== 0) throw new SdError(SD_RES.INVALID_PARMS);
      await s.vdis.setCopies(req.stateNewVid, req.stateCopies, req.stateBlockSizeShift);
      s.onVdiCopiesChanged();
    },
  },
  [SD_OP.REWEIGHT]: {
    kind: 'cluster',
    async main(s) {
      await s.reweight();
    },
  },
  [SD_OP.ENABLE_RECOVER]: {
    kind: 'cluster',
    main(s) {
      s.group.cinfo.disableRecovery = false;
      s.onRecoveryEnabled();
    },
  },
  [SD_OP.DISABLE_RECOVER]: {
    kind: 'cluster',
    main(s) {
      s.group.cinfo.disableRecovery = true;
    },
  },
  [SD_OP.COMPLETE_RECOVERY]: {
    kind: 'cluster',
    force: true,
    async main(s, req, _rsp, _data, sender) {
      await s.recovery.completed(sender, req.objTgtEpoch);
    },
  },
  [SD_OP.FORCE_RECOVER]: {
    kind: 'cluster',
    force: true,
    async work(s, req, _data, rsp) {
      if (s.group.status !== SD_STATUS.WAIT || !s.group.formatted) throw new SdError(SD_RES.FORCE_RECOVER);
      const raw = await s.meta.getEpochRaw(s.group.epoch);
      if (!raw) throw new SdError(SD_RES.FORCE_RECOVER);
      const nodes = raw.subarray(0, raw.length - 8);
      if (req.dataLength < nodes.length) throw new SdError(SD_RES.INVALID_PARMS);
      rsp.epoch = s.group.epoch;
      return nodes;
    },
    async main(s, _req, rsp) {
      if (rsp.epoch !== s.group.epoch) return;
      await s.group.forceRecover();
    },
  },
};
