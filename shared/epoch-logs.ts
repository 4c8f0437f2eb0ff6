/**
 * STAT_CLUSTER as its clients ask it: the epoch logs, with room for
 * `nodes` members per epoch, asked again with twice the room while the sheep
 * answers BUFFER_SMALL. dog (cluster info, vdi track) and sheepfs use it.
 */
import type { Reply } from './client.js';
import { requestGrowing } from './grow-reply.js';
import { decodeEpochLog, epochLogStride, type EpochLog } from './proto/cluster-info.js';
import { SdHeader } from './proto/header.js';
import { SD_OP } from './proto/opcodes.js';

export interface EpochLogsAsk {
  /** how many epochs the buffer has room for */
  epochs: number;
  /** members per epoch to make room for at first (the current member count) */
  firstNodes: number;
  /** most members per epoch ever made room for */
  maxNodes: number;
}

/** The last reply (undefined: none came) and the epoch logs it holds. */
export async function requestEpochLogs<R extends Reply>(
  send: (req: SdHeader) => Promise<R | undefined>, ask: EpochLogsAsk,
): Promise<{ reply: R | undefined; logs: EpochLog[] }> {
  const { reply, size: nodesNr } = await requestGrowing((nr) => {
    const h = SdHeader.request(SD_OP.STAT_CLUSTER, 0, ask.epochs * epochLogStride(nr));
    h.clusterNodesNr = nr;
    return send(h);
  }, { first: ask.firstNodes, max: ask.maxNodes });
  const logs: EpochLog[] = [];
  if (reply) {
    const stride = epochLogStride(nodesNr);
    for (let at = 0; at + stride <= reply.data.length; at += stride) logs.push(decodeEpochLog(reply.data, at, nodesNr));
  }
  return { reply, logs };
}
