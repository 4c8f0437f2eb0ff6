import { assert, resultOf } from '../shared/errors.js';
import { nodeAddrString, type SdNode } from '../shared/node.js';
import { HEADER_SIZE, SdHeader } from '../shared/proto/header.js';
import { opName } from '../shared/proto/opcodes.js';
import { SD_RES } from '../shared/proto/results.js';
import { clusterOp, type ClusterOpDef, type OpContext } from './ops/index.js';

/** Largest cluster message (the original's SD_MAX_EVENT_BUF_SIZE). */
export const MAX_CLUSTER_MSG = 128 * 1024;
/** A wait for the cluster-wide block, or a work part under it, this long is logged (it stalls every blocking op). */
const SLOW_BLOCK_MS = 10_000;

/** Log `what` every SLOW_BLOCK_MS while `p` is pending: a stage that never ends shows in the log. */
async function watched<T>(s: OpContext, what: string, p: Promise<T>): Promise<T> {
  const t0 = Date.now();
  const timer = setInterval(() => {
    s.log.warn('cluster-op', `${what}: still pending after ${Date.now() - t0} ms (${s.driver.blockState?.() ?? '?'})`);
  }, SLOW_BLOCK_MS);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

interface Outcome {
  rsp: SdHeader;
  data: Buffer | undefined;
}

/**
 * Runs cluster operations: the work part on the receiving sheep while it holds
 * the cluster-wide block, then the main part on every sheep in total order.
 * The message broadcast is the original's vdi_op_message (request header,
 * response header, data) behind a 4-byte token that matches it to its caller.
 */
export class ClusterOps {
  private nextToken = 1;
  /** ops waiting for their own message, by token; a number is the result they fail with */
  private readonly waiting = new Map<number, (o: Outcome | number) => void>();

  constructor(private readonly s: OpContext) {}

  private encode(token: number, req: SdHeader, rsp: SdHeader, data: Buffer | undefined): Buffer {
    const len = 4 + 2 * HEADER_SIZE + (data?.length ?? 0);
    assert(len <= MAX_CLUSTER_MSG + 4 + 2 * HEADER_SIZE, 'cluster message fits the event buffer');
    const b = Buffer.alloc(len);
    b.writeUInt32LE(token, 0);
    req.buf.copy(b, 4);
    rsp.buf.copy(b, 4 + HEADER_SIZE);
    data?.copy(b, 4 + 2 * HEADER_SIZE);
    return b;
  }

  /** Run a cluster op received from a client; returns the reply payload. */
  async run(def: ClusterOpDef, req: SdHeader, data: Buffer | undefined, rsp: SdHeader): Promise<Buffer | undefined> {
    let out: Buffer | undefined;
    const token = this.nextToken++;
    const delivered = new Promise<Outcome | number>((resolve) => this.waiting.set(token, resolve));
    try {
      out = await this.send(def, token, req, data, rsp);
    } catch (e) {
      this.waiting.delete(token);
      throw e;
    }
    const o = await delivered;
    if (typeof o === 'number') {
      rsp.result = o;
      return undefined;
    }
    o.rsp.buf.copy(rsp.buf);
    if (def.main && !req.isWrite && o.data && o.data.length > 0) return o.data;
    return out;
  }

  /** The work part under the cluster-wide block, then the broadcast; returns the work's reply payload. */
  private async send(def: ClusterOpDef, token: number, req: SdHeader, data: Buffer | undefined, rsp: SdHeader): Promise<Buffer | undefined> {
    let out: Buffer | undefined;
    if (def.work) {
      const what = `${opName(req.opcode)} (token ${token})`;
      await watched(this.s, `${what}: waiting for the cluster block`, this.s.driver.block());
      try {
        out = (await watched(this.s, `${what}: work under the cluster block`, def.work(this.s, req, data, rsp))) ?? undefined;
      } catch (e) {
        rsp.result = resultOf(e);
        if (rsp.result === SD_RES.EIO) this.s.log.err('cluster-op', `${opName(req.opcode)} failed: ${(e as Error).stack}`);
      } finally {
        const msgData = def.main && req.isWrite ? data : out;
        await watched(this.s, `${what}: unblock`, this.s.driver.unblock(this.encode(token, req, rsp, rsp.result === SD_RES.SUCCESS ? msgData : undefined)));
      }
    } else {
      await this.s.driver.notify(this.encode(token, req, rsp, req.isWrite ? data : undefined));
    }
    return out;
  }

  /**
   * This sheep was dropped from the cluster: the ops waiting for their own
   * message will not see it (a rejoin starts a new membership), so they end
   * now with `result` instead of never answering.
   */
  abandonWaiting(result: number): void {
    for (const done of this.waiting.values()) done(result);
    this.waiting.clear();
  }

  /** A cluster message arrived (on every sheep, in total order). */
  async deliver(sender: SdNode, msg: Buffer, self: boolean): Promise<void> {
    const token = msg.readUInt32LE(0);
    const req = new SdHeader(Buffer.from(msg.subarray(4, 4 + HEADER_SIZE)));
    const rsp = new SdHeader(Buffer.from(msg.subarray(4 + HEADER_SIZE, 4 + 2 * HEADER_SIZE)));
    const data = msg.length > 4 + 2 * HEADER_SIZE ? Buffer.from(msg.subarray(4 + 2 * HEADER_SIZE)) : undefined;
    const def = clusterOp(req.opcode);
    if (def?.main && rsp.result === SD_RES.SUCCESS) {
      try {
        await def.main(this.s, req, rsp, data, sender);
      } catch (e) {
        const code = resultOf(e);
        this.s.log.err('cluster-op', `${opName(req.opcode)} from ${nodeAddrString(sender)} failed here: ${(e as Error).message}`);
        if (self) rsp.result = code;
      }
    }
    if (!self) return;
    const done = this.waiting.get(token);
    if (!done) return;
    this.waiting.delete(token);
    done({ rsp, data });
  }
}
