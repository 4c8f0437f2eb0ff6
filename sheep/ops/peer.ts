import { resultOf, SdError } from '../../shared/errors.js';
import { ecPolicyToDp, isEcObj, isSparseObj, isLedgerObj, SD_LEDGER_OBJ_SIZE } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { DecrefTokens } from '../decref-tokens.js';
import { ecStripFileSize } from '../ec-io.js';
import { stageNow, stageSince } from '../stage-times.js';
import type { ObjectRef } from '../store/store.js';
import { trimZeroBlocks } from '../store/zero-blocks.js';
import type { OpContext, OpHandler, OpTable } from './types.js';

/** The store, or NO_OBJ on a gateway-only sheep (it holds nothing). */
function storeOf(s: OpContext) {
  if (!s.store) throw new SdError(SD_RES.NO_OBJ);
  return s.store;
}

/** Which local file a peer request means: the object, or its strip for EC objects. */
function refOf(s: OpContext, req: SdHeader): ObjectRef {
  const oid = req.objOid;
  const ec = isEcObj(oid, s.gateway.copyPolicy(oid, req.objCopyPolicy)) ? req.objEcIndex : undefined;
  return { oid, ec };
}

/** Size of the local file: the object, or one strip of it. */
function localSize(s: OpContext, req: SdHeader, ref: ObjectRef): number {
  const size = s.gateway.objSize(ref.oid);
  if (ref.ec === undefined) return size;
  return ecStripFileSize(size, ecPolicyToDp(s.gateway.copyPolicy(ref.oid, req.objCopyPolicy)).d);
}

/**
 * Requests from an older epoch are refused; from a newer one they wait for us to
 * catch up. Then an object this node owns but has not recovered yet is
 * recovered first (recovery's own reads skip that: they must not wait on it).
 */
async function checkEpoch(s: OpContext, req: SdHeader, rsp: SdHeader): Promise<void> {
  const diff = (req.epoch - s.group.epoch) | 0;
  if (diff < 0) {
    rsp.epoch = s.group.epoch;
    throw new SdError(SD_RES.OLD_NODE_VER);
  }
  if (diff > 0) await s.group.waitForEpoch(req.epoch);
  s.recovery.entered(req);
  if ((req.flags & SD_FLAG.CMD_RECOVERY) === 0) {
    await s.recovery.beforeAccess(req.opcode === SD_OP.DECREF_PEER ? req.refOid : req.objOid);
  }
}

function checkRange(offset: number, length: number, size: number): void {
  if (offset + length > size) throw new SdError(SD_RES.INVALID_PARMS, `${offset}+${length} > ${size}`);
}

const createPeer: OpHandler = async (s, req, data, rsp) => {
  await checkEpoch(s, req, rsp);
  const store = storeOf(s);
  const ref = refOf(s, req);
  const size = localSize(s, req, ref);
  let payload = data ?? Buffer.alloc(0);
  checkRange(req.objOffset, payload.length, size);
  let offset = req.objOffset;
  if (payload.length === 0 && !isSparseObj(ref.oid)) {
    // a create without data preallocates: the object's space is really taken
    payload = Buffer.alloc(size);
    offset = 0;
  } else if (isSparseObj(ref.oid)) {
    ({ offset, data: payload } = trimZeroBlocks(offset, payload));
  }
  await store.create(ref, offset, payload, size, s.group.epoch);
};

const readPeer: OpHandler = async (s, req, _data, rsp, into) => {
  const tEpoch = stageNow();
  await checkEpoch(s, req, rsp);
  stageSince('READ_PEER epoch check', tEpoch);
  const store = storeOf(s);
  const ref = refOf(s, req);
  const size = localSize(s, req, ref);
  checkRange(req.objOffset, req.dataLength, size);
  if ((req.flags & SD_FLAG.CMD_RECOVERY) === 0 && req.objOffset === 0 && req.dataLength === size
    && !(await store.recheck(ref))) {
    // a whole-file read (vdi check of a strip, a whole-object read) looks on
    // disk: an open file handle would still serve a file removed meanwhile
    throw new SdError(SD_RES.NO_OBJ);
  }
  if ((req.flags & SD_FLAG.CMD_RECOVERY) !== 0) {
    // a recovering node asks for the copy as of obj.tgt_epoch: the live one,
    // else a stale copy moved aside at that epoch or later (as new as it gets);
    // a live copy that goes aside while it is read is read there
    if (store.exists(ref)) {
      const live = await store.read(ref, req.objOffset, req.dataLength).catch((e: unknown) => {
        if (resultOf(e) !== SD_RES.NO_OBJ) throw e;
        return undefined;
      });
      if (live) return live;
    }
    const tag = store.staleEpoch(ref);
    if (tag === undefined || tag < req.objTgtEpoch) throw new SdError(SD_RES.NO_OBJ);
    return store.readStale(ref, tag, req.objOffset, req.dataLength);
  }
  const t0 = stageNow();
  const buf = await store.read(ref, req.objOffset, req.dataLength, into);
  stageSince('READ_PEER store read', t0);
  return buf;
};

const writePeer: OpHandler = async (s, req, data, rsp) => {
  const tEpoch = stageNow();
  await checkEpoch(s, req, rsp);
  stageSince('WRITE_PEER epoch check', tEpoch);
  const store = storeOf(s);
  const ref = refOf(s, req);
  const payload = data ?? Buffer.alloc(0);
  checkRange(req.objOffset, payload.length, localSize(s, req, ref));
  const t0 = stageNow();
  if (payload.length > 0) await store.write(ref, req.objOffset, payload);
  stageSince('WRITE_PEER store write', t0);
};

const removePeer: OpHandler = async (s, req, _data, rsp) => {
  await checkEpoch(s, req, rsp);
  await storeOf(s).remove(refOf(s, req));
};

/** Ledger updates of one sheep run one at a time (read-modify-write of a counter array). */
let ledgerChain: Promise<unknown> = Promise.resolve();
/** The DECREFs each sheep applied lately: a retry of one is not applied again. */
const decrefTokensOf = new WeakMap<OpContext, DecrefTokens>();

function decrefTokens(s: OpContext): DecrefTokens {
  let t = decrefTokensOf.get(s);
  if (!t) decrefTokensOf.set(s, t = new DecrefTokens(s.meta));
  return t;
}

/**
 * DECREF_PEER: generational reference counting. ledger[g] -= 1, ledger[g+1] += c;
 * when every counter is zero the object has no referrer left, and the first
 * holder of the ledger removes the data object. A retry of a DECREF (same
 * token) already applied here, before a restart included, is answered without
 * applying it again (decref-tokens.ts).
 */
const decrefPeer: OpHandler = async (s, req, _data, rsp) => {
  await checkEpoch(s, req, rsp);
  const store = storeOf(s);
  const ledger = req.refOid;
  if (!isLedgerObj(ledger)) throw new SdError(SD_RES.INVALID_PARMS);
  const gen = req.refGeneration;
  const count = req.refCount;
  const token = req.refToken;
  const applied = decrefTokens(s);
  const run = () => applied.once(token, async () => {
    const ref = { oid: ledger, ec: undefined };
    const existed = store.exists(ref);
    const buf = existed ? await store.read(ref, 0, SD_LEDGER_OBJ_SIZE) : Buffer.alloc(SD_LEDGER_OBJ_SIZE);
    if (!existed) buf.writeUInt32LE(1, 0);
    const at = 4 * gen;
    if (at + 8 > buf.length) throw new SdError(SD_RES.INVALID_PARMS, `generation ${gen}`);
    buf.writeUInt32LE((buf.readUInt32LE(at) - 1) >>> 0, at);
    buf.writeUInt32LE((buf.readUInt32LE(at + 4) + count) >>> 0, at + 4);
    if (buf.every((b) => b === 0)) {
      if (existed) await store.remove(ref);
      const dataOid = ledger & ~(1n << 59n);
      const copies = s.gateway.copies(dataOid, 0);
      if (s.gateway.isFirstHolder(ledger, copies)) {
        s.log.debug('ledger', `no reference left to ${dataOid.toString(16)}: removing it`);
        void s.gateway.remove({ oid: dataOid, offset: 0, copies, copyPolicy: 0, flags: 0 }).catch(() => {});
      }
      return;
    }
    const t = trimZeroBlocks(0, buf);
    await store.create(ref, t.offset, t.data, SD_LEDGER_OBJ_SIZE, s.group.epoch);
  });
  const p = ledgerChain.then(run, run);
  ledgerChain = p.catch(() => {});
  await p;
};

/** Sheep-to-sheep object ops against the local store. */
/**
 * A peer write's payload goes only to the store, which is done with it when
 * the call settles; the journal (-j) queues records, so it is left out.
 */
const payloadFreeAfter = (s: OpContext): boolean => s.opts.journal === undefined;

export const peerOps: OpTable = {
  [SD_OP.CREATE_AND_WRITE_PEER]: { kind: 'peer', handle: createPeer, payloadFreeAfter },
  // (the store is done with `into` when its read settles)
  [SD_OP.READ_PEER]: { kind: 'peer', handle: readPeer, replyInto: true },
  [SD_OP.WRITE_PEER]: { kind: 'peer', handle: writePeer, payloadFreeAfter },
  [SD_OP.REMOVE_PEER]: { kind: 'peer', handle: removePeer },
  [SD_OP.DECREF_PEER]: { kind: 'peer', handle: decrefPeer },
};
