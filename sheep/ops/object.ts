import { SdError } from '../../shared/errors.js';
import { INODE_OFF } from '../../shared/inode.js';
import { dataOidToIdx, isDataObj, isEcObj, oidToVid, vidToVdiOid } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { GATEWAY_RETRY_DEADLINE_MS } from '../../shared/timeouts.js';
import type { ObjectIo } from '../gateway.js';
import type { OpContext, OpTable } from './types.js';

export function objectIo(req: SdHeader): ObjectIo {
  return {
    oid: req.objOid, offset: req.objOffset, copies: req.objCopies, copyPolicy: req.objCopyPolicy, flags: req.flags,
    deadline: Date.now() + GATEWAY_RETRY_DEADLINE_MS,
  };
}

/** With -w: data objects flagged for the cache (or cached already) go through this sheep's object cache. */
function cached(s: OpContext, req: SdHeader): boolean {
  return s.cache !== undefined && s.cache.handles(req.objOid, (req.flags & SD_FLAG.CMD_CACHE) !== 0);
}

/**
 * A write into the object cache: refused on a snapshot's data as the gateway
 * refuses it (the writer then moves to the VDI's new working vid), or it would
 * change the snapshot in the cache and be refused at write-back.
 */
function cachedWrite(s: OpContext, io: ObjectIo, data: Buffer, create: boolean, cow?: bigint): Promise<void> {
  s.gateway.writable(io);
  return s.cache!.write(io, data, create, cow);
}

/**
 * A data object's write that the gateway fans out to its holders (no object
 * cache, no journal, no erasure code): the peers' socket writes and the local
 * store write are all settled when the handler is, so the payload is free.
 */
function plainFanOut(s: OpContext, req: SdHeader): boolean {
  return s.opts.journal === undefined && !cached(s, req) && isDataObj(req.objOid)
    && !isEcObj(req.objOid, s.gateway.copyPolicy(req.objOid, req.objCopyPolicy));
}

/** Client object I/O (the gateway ops). */
export const objectOps: OpTable = {
  [SD_OP.CREATE_AND_WRITE_OBJ]: {
    kind: 'gateway',
    payloadFreeAfter: plainFanOut,
    async handle(s, req, data) {
      const cow = (req.flags & SD_FLAG.CMD_COW) !== 0 ? req.objCowOid : undefined;
      if (cached(s, req)) return cachedWrite(s, objectIo(req), data ?? Buffer.alloc(0), true, cow);
      await s.gateway.createAndWrite(objectIo(req), data ?? Buffer.alloc(0), cow);
    },
  },
  [SD_OP.READ_OBJ]: {
    kind: 'gateway',
    // `into` goes only to the gateway's read (not the cache, not erasure code)
    replyInto: true,
    async handle(s, req, _data, _rsp, into) {
      if (req.dataLength === 0) return undefined;
      if (cached(s, req)) return s.cache!.read(objectIo(req), req.dataLength);
      return s.gateway.read(objectIo(req), req.dataLength, into);
    },
  },
  [SD_OP.WRITE_OBJ]: {
    kind: 'gateway',
    payloadFreeAfter: plainFanOut,
    async handle(s, req, data) {
      if (!data || data.length === 0) return;
      if (cached(s, req)) return cachedWrite(s, objectIo(req), data, false);
      await s.gateway.write(objectIo(req), data);
    },
  },
  [SD_OP.REMOVE_OBJ]: {
    kind: 'gateway',
    async handle(s, req) {
      if (cached(s, req)) return s.cache!.remove(objectIo(req));
      await s.gateway.remove(objectIo(req));
    },
  },
  [SD_OP.DECREF_OBJ]: {
    kind: 'gateway',
    async handle(s, req) {
      await s.gateway.decref(req.refOid, req.refGeneration | 0, req.refCount | 0, s.gateway.copies(req.refOid, 0), Date.now() + GATEWAY_RETRY_DEADLINE_MS);
    },
  },
  [SD_OP.DISCARD_OBJ]: {
    kind: 'gateway',
    async handle(s, req) {
      // older QEMU: drop the object from its VDI's index; the reference drop frees it
      const oid = req.objOid;
      if (!isDataObj(oid)) throw new SdError(SD_RES.INVALID_PARMS);
      const inode = vidToVdiOid(oidToVid(oid));
      const slot = INODE_OFF.dataVdiId + 4 * dataOidToIdx(oid);
      const io = { oid: inode, offset: slot, copies: 0, copyPolicy: 0, flags: 0 };
      const cur = await s.gateway.read(io, 4);
      if (cur.readUInt32LE(0) !== 0) await s.gateway.write(io, Buffer.alloc(4));
    },
  },
};
