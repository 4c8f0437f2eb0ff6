import { createHash } from 'node:crypto';
import { SdError } from '../../shared/errors.js';
import { encodeNodes, SD_NODE_SIZE } from '../../shared/node.js';
import { ecPolicyToDp, isEcObj, oidToVid } from '../../shared/oid.js';
import { cacheInfoReply } from '../store/object-cache.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { encodeMdInfo, MD_INFO_SIZE } from '../../shared/proto/md-info.js';
import { encodeOidList } from '../../shared/proto/obj-list.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { decodeRecoveryThrottle, encodeRecoveryThrottle } from '../../shared/proto/recovery.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { OpContext, OpTable } from './types.js';
import { ecStripFileSize } from '../ec-io.js';
import type { ObjectRef } from '../store/store.js';

/** The local file EXIST and GET_HASH mean: the object, or this node's strip of it. */
/** The local file of an object: the replica, or this node's strip; undefined when it holds no strip. */
function localRef(s: OpContext, oid: bigint): ObjectRef | undefined {
  if (!isEcObj(oid, s.gateway.copyPolicy(oid, 0))) return { oid, ec: undefined };
  const holders = s.group.ring.holders(oid, s.gateway.copies(oid, 0));
  const idx = holders.findIndex((n) => s.peers.isSelf(n));
  return idx < 0 ? undefined : { oid, ec: idx };
}

/** Is the object (or our strip of it) really in the local store? */
async function holdsLocally(s: OpContext, ref: ObjectRef | undefined): Promise<boolean> {
  return !!s.store && ref !== undefined && s.store.recheck(ref);
}

/** MD_PLUG / MD_UNPLUG: payload is a NUL-terminated comma-separated list of directories. */
async function mdChange(s: OpContext, data: Buffer | undefined, what: 'plug' | 'unplug'): Promise<void> {
  const text = data ? data.toString('utf8', 0, data.indexOf(0) < 0 ? data.length : data.indexOf(0)) : '';
  const paths = text.split(',').map((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p)).filter((p) => p !== '');
  if (!s.md) {
    s.log.warn('md', `${what} ${text}: this sheep was started with one store directory, not md disks`);
    throw new SdError(SD_RES.UNKNOWN);
  }
  if (what === 'plug' && paths.some((p) => p === s.baseDir)) throw new SdError(SD_RES.UNKNOWN, 'the base directory is not a disk');
  const n = what === 'plug' ? await s.md.plug(paths) : await s.md.unplug(paths);
  if (n === 0) {
    s.log.warn('md', `${what} ${text}: the disk set did not change`);
    throw new SdError(SD_RES.UNKNOWN);
  }
}

/** Longest delay a Node timer takes (2^31-1 ms). */
const TIMER_MAX_MS = 0x7fffffffn;

/** Ops that concern this sheep only. */
export const nodeOps: OpTable = {
  [SD_OP.GET_NODE_LIST]: {
    kind: 'local',
    force: true,
    async handle(s, req, _data, rsp) {
      const nodes = s.group.joined ? s.group.nodeList() : [];
      const n = Math.min(nodes.length, Math.floor(req.dataLength / SD_NODE_SIZE));
      rsp.rspNrNodes = n;
      return encodeNodes(nodes.slice(0, n));
    },
  },
  [SD_OP.STAT_SHEEP]: {
    kind: 'local',
    async handle(s, _req, _data, rsp) {
      if (!s.store) return;
      const sp = await s.store.space();
      rsp.rspStoreSize = sp.size;
      rsp.rspStoreFree = sp.free;
    },
  },
  [SD_OP.KILL_NODE]: {
    kind: 'local',
    force: true,
    async handle(s) {
      s.kill();
    },
  },
  [SD_OP.SET_VNODES]: {
    kind: 'local',
    async handle(s, _req, data) {
      if (s.opts.gateway) throw new SdError(SD_RES.GATEWAY_MODE, 'a gateway has no vnodes');
      if (s.group.autoVnodes) throw new SdError(SD_RES.INVALID_VNODES_STRATEGY, 'the cluster uses auto vnodes');
      // dog sends the count as a 32-bit int (the original sent 8 bytes: sizeof a pointer)
      const n = data && data.length >= 4 ? data.readInt32LE(0) : 0;
      if (n < 1 || n > 0xffff) throw new SdError(SD_RES.INVALID_PARMS, `invalid vnodes: ${n}`);
      // every member, this one included, starts a new epoch when the update arrives
      s.self = { ...s.self, nrVnodes: n };
      await s.driver.updateNode(s.self);
    },
  },
  [SD_OP.STAT]: {
    kind: 'local',
    async handle(s) {
      return s.stats.encode();
    },
  },
  [SD_OP.GET_LOGLEVEL]: {
    kind: 'local',
    force: true,
    async handle(s) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(s.log.level);
      return b;
    },
  },
  [SD_OP.SET_LOGLEVEL]: {
    kind: 'local',
    force: true,
    async handle(s, _req, data) {
      const level = data && data.length >= 4 ? data.readInt32LE(0) : -1;
      if (level < 0 || level > 7) throw new SdError(SD_RES.INVALID_PARMS);
      s.log.level = level;
    },
  },
  [SD_OP.EXIST]: {
    kind: 'local',
    force: true,
    async handle(s, req) {
      if (!(await holdsLocally(s, localRef(s, req.objOid)))) throw new SdError(SD_RES.NO_OBJ);
    },
  },
  [SD_OP.OIDS_EXIST]: {
    kind: 'local',
    force: true,
    async handle(s, _req, data, rsp) {
      const missing: bigint[] = [];
      for (let i = 0; data && i + 8 <= data.length; i += 8) {
        const oid = data.readBigUInt64LE(i);
        if (!(await holdsLocally(s, localRef(s, oid)))) missing.push(oid);
      }
      if (missing.length === 0) return undefined;
      rsp.result = SD_RES.NO_OBJ;
      const out = Buffer.alloc(8 * missing.length);
      missing.forEach((o, i) => out.writeBigUInt64LE(o, 8 * i));
      return out;
    },
  },
  [SD_OP.GET_HASH]: {
    kind: 'local',
    async handle(s, req, _data, rsp) {
      const ref = localRef(s, req.objOid);
      if (!ref || !(await holdsLocally(s, ref))) throw new SdError(SD_RES.NO_OBJ);
      const objSize = s.gateway.objSize(req.objOid);
      const size = ref.ec === undefined ? objSize : ecStripFileSize(objSize, ecPolicyToDp(s.gateway.copyPolicy(req.objOid, 0)).d);
      const whole = await s.store!.read(ref, 0, size);
      rsp.rspDigest = createHash('sha1').update(whole).digest();
    },
  },
  [SD_OP.GET_EPOCH]: {
    kind: 'local',
    async handle(s, req) {
      const raw = await s.meta.getEpochRaw(req.objTgtEpoch);
      if (!raw) throw new SdError(SD_RES.NO_TAG);
      if (raw.length > req.dataLength) throw new SdError(SD_RES.BUFFER_SMALL);
      return raw;
    },
  },
  [SD_OP.GET_OBJ_LIST]: {
    kind: 'local',
    // answered in any state: a member still settling its own join holds objects too
    force: true,
    async handle(s, req) {
      // recovery (flag set) also needs the copies moved aside: they may be the last ones
      const withStale = (req.flags & SD_FLAG.CMD_RECOVERY) !== 0;
      const oids = !s.store ? [] : withStale ? [...new Set([...s.store.oids(), ...s.store.staleOids()])] : s.store.oids();
      if (8 * oids.length > req.dataLength) throw new SdError(SD_RES.BUFFER_SMALL);
      return encodeOidList(oids);
    },
  },
  [SD_OP.GET_RECOVERY]: {
    kind: 'local',
    force: true,
    async handle(s) {
      const t = s.recovery.throttle;
      return encodeRecoveryThrottle(t.max, t.interval ?? BigInt(t.intervalMs));
    },
  },
  [SD_OP.SET_RECOVERY]: {
    kind: 'local',
    force: true,
    async handle(s, _req, data) {
      const set = data && decodeRecoveryThrottle(data);
      if (!set) throw new SdError(SD_RES.INVALID_PARMS);
      const { max, interval } = set;
      // a timer waits at most 2^31-1 ms; the interval itself is reported back as set
      const intervalMs = Number(interval > TIMER_MAX_MS ? TIMER_MAX_MS : interval);
      s.recovery.throttle = max > 0 && interval > 0n ? { max, intervalMs, interval } : { max: 0, intervalMs: 0 };
    },
  },
  [SD_OP.STAT_RECOVERY]: {
    kind: 'local',
    async handle(s) {
      return s.recoveryState();
    },
  },
  [SD_OP.GET_CACHE_INFO]: {
    kind: 'local',
    async handle(s, req) {
      if (!s.cache) throw new SdError(SD_RES.NO_CACHE);
      return cacheInfoReply(s.cache, req.dataLength);
    },
  },
  [SD_OP.DELETE_CACHE]: {
    kind: 'local',
    async handle(s, req) {
      if (!s.cache) throw new SdError(SD_RES.NO_CACHE);
      await s.cache.delete(oidToVid(req.objOid));
    },
  },
  [SD_OP.MD_PLUG]: {
    kind: 'local',
    async handle(s, _req, data) {
      await mdChange(s, data, 'plug');
    },
  },
  [SD_OP.MD_UNPLUG]: {
    kind: 'local',
    async handle(s, _req, data) {
      await mdChange(s, data, 'unplug');
    },
  },
  [SD_OP.MD_INFO]: {
    kind: 'local',
    async handle(s, req) {
      if (req.dataLength !== MD_INFO_SIZE) throw new SdError(SD_RES.INVALID_PARMS);
      return encodeMdInfo(await s.diskInfo());
    },
  },
};
