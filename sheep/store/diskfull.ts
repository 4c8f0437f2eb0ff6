import { SdError } from '../../shared/errors.js';
import { nodeAddrString, nodeKey, type SdNode } from '../../shared/node.js';
import { ecPolicyToDp, isEcObj } from '../../shared/oid.js';
import { SD_CLUSTER_FLAG, SD_FLAG } from '../../shared/proto/flags.js';
import { requestGrowing } from '../../shared/grow-reply.js';
import { SdHeader } from '../../shared/proto/header.js';
import { decodeOidList } from '../../shared/proto/obj-list.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { ecStripFileSize } from '../ec-io.js';
import type { Logger } from '../log.js';
import type { Peers } from '../peers.js';
import type { MembershipView, ObjectLayout } from '../ports.js';
import type { ObjectStore } from './store.js';

/** What the space check reads: the members, their object lists, object sizes. */
export interface DiskfullInputs {
  readonly log: Logger;
  readonly group: MembershipView;
  readonly store: ObjectStore | undefined;
  readonly peers: Pick<Peers, 'peerConn' | 'isSelf'>;
  readonly gateway: ObjectLayout;
}

/** GET_OBJ_LIST buffer for the space check; doubled on BUFFER_SMALL. */
const LIST_START_BYTES = 1 << 20;
const LIST_MAX_BYTES = 1 << 30;
const LIST_TIMEOUT_MS = 30_000;

async function objectList(s: DiskfullInputs, n: SdNode): Promise<bigint[]> {
  if (s.peers.isSelf(n)) return s.store ? [...s.store.oids(), ...s.store.staleOids()] : [];
  const { reply: rsp } = await requestGrowing(async (len) => {
    const req = SdHeader.request(SD_OP.GET_OBJ_LIST, SD_FLAG.CMD_RECOVERY, len);
    req.epoch = s.group.epoch;
    const conn = await s.peers.peerConn(n);
    return conn.request(req, undefined, LIST_TIMEOUT_MS);
  }, { first: LIST_START_BYTES, max: LIST_MAX_BYTES });
  if (rsp!.hdr.result === SD_RES.BUFFER_SMALL) throw new SdError(SD_RES.BUFFER_SMALL, 'object list too large');
  if (rsp!.hdr.result !== SD_RES.SUCCESS) throw new SdError(rsp!.hdr.result, 'GET_OBJ_LIST');
  return decodeOidList(rsp!.data);
}

/**
 * `cluster format -F` (AVOID_DISKFULL): before a recovery fetches anything,
 * add up what every member would hold under the current ring (every object of
 * the cluster, live or stale, at its full size or strip size) and compare it
 * with the capacity the member announced. Returns why the recovery must not
 * run, or undefined when it fits (or the flag is off).
 */
export async function recoveryWouldFillDisk(s: DiskfullInputs): Promise<string | undefined> {
  if ((s.group.cinfo.flags & SD_CLUSTER_FLAG.AVOID_DISKFULL) === 0 || !s.store) return undefined;
  const members = s.group.cinfo.nodes.filter((n) => n.nrVnodes > 0);
  const all = new Set<bigint>();
  for (const n of members) {
    try {
      for (const oid of await objectList(s, n)) all.add(oid);
    } catch (e) {
      s.log.warn('recovery', `space check: no object list from ${nodeAddrString(n)}: ${(e as Error).message}`);
    }
  }
  const need = new Map<string, bigint>();
  const ring = s.group.ring;
  if (ring.isEmpty) return undefined;
  for (const oid of all) {
    const size = s.gateway.objSize(oid);
    const policy = s.gateway.copyPolicy(oid, 0);
    let holders: SdNode[];
    let bytes: number;
    if (isEcObj(oid, policy)) {
      const { d, p } = ecPolicyToDp(policy);
      holders = ring.holders(oid, d + p);
      bytes = ecStripFileSize(size, d);
    } else {
      holders = ring.holders(oid, s.gateway.copies(oid, 0));
      bytes = size;
    }
    for (const h of holders) need.set(nodeKey(h), (need.get(nodeKey(h)) ?? 0n) + BigInt(bytes));
  }
  for (const n of members) {
    const wanted = need.get(nodeKey(n)) ?? 0n;
    if (n.space > 0n && wanted > n.space) {
      return `${nodeAddrString(n)} would hold ${wanted} bytes but has ${n.space}`;
    }
  }
  return undefined;
}
