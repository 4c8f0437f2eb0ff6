/**
 * The gateway's retries on a stub sheep (issue 13): a DECREF retried after a
 * partial failure reaches only the holders that have not applied it (defect 3);
 * a client write sends nothing after its deadline and waits no longer, and the
 * clients' timeouts outlive the gateway's (defect 7).
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SdError } from '../../shared/errors.js';
import { makeNode, nodeKey, type SdNode } from '../../shared/node.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Gateway, type GatewayDeps } from '../../sheep/gateway.js';
import { Logger } from '../../sheep/log.js';
import { FUSE_OP_TIMEOUT_MS, DEFAULT_LIMITS } from '../../sheepfs/link.js';
import { GATEWAY_REQUEST_MAX_MS, GATEWAY_RETRY_DEADLINE_MS } from '../../shared/timeouts.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const [A, B, C, D] = [1, 2, 3, 4].map((i) => makeNode(`127.0.0.${i}`, 7100 + i));

/** A gateway whose ring is `ring()` and whose peer requests go to `answer`. */
function gateway(ring: () => SdNode[], answer: (n: SdNode, h: SdHeader, attempt: number) => void) {
  const group = { epoch: 1, ring: { get isEmpty() { return false; }, holders: () => ring() }, waitForEpoch: async () => {} };
  const s = { group, log, stopping: false, self: makeNode('127.0.0.9', 7199), vdis: new Map() } as unknown as GatewayDeps;
  const gw = new Gateway(s);
  const calls = new Map<string, number>();
  let attempt = 0;
  const asked = new Set<string>();
  gw.peer = async (n, h) => {
    const k = nodeKey(n);
    if (asked.has(k)) { attempt++; asked.clear(); }
    asked.add(k);
    assert.is(h.opcode, SD_OP.DECREF_PEER);
    answer(n, h, attempt);
    calls.set(k, (calls.get(k) ?? 0) + 1);
    return { hdr: h, data: Buffer.alloc(0) };
  };
  return { gw, group, calls };
}

test('a retried DECREF is applied once on every holder', async () => {
  let failB = 2;
  const { gw, calls } = gateway(() => [A, B, C], (n) => {
    if (n === B && failB-- > 0) throw new SdError(SD_RES.NETWORK_ERROR, 'no answer');
  });
  await gw.decref(0x0800_0001_0000_0002n, 0, 0, 3);
  for (const n of [A, C]) assert.is(calls.get(nodeKey(n)), 1, `holder ${n.port} decremented once`);
  assert.is(calls.get(nodeKey(B)), 1, 'the failing holder decremented once it answered');
});

test('a holder that joined the ring during the retries is not decremented', async () => {
  let ring = [A, B, C];
  let failB = true;
  const { gw, calls, group } = gateway(() => ring, (n) => {
    if (n === B && failB) {
      // B leaves; D takes its place with a copy recovered from A or C
      failB = false;
      ring = [A, C, D];
      group.epoch = 2;
      throw new SdError(SD_RES.NETWORK_ERROR, 'gone');
    }
  });
  await gw.decref(0x0800_0001_0000_0002n, 0, 0, 3);
  assert.is(calls.get(nodeKey(A)), 1);
  assert.is(calls.get(nodeKey(C)), 1);
  assert.is(calls.get(nodeKey(D)), undefined);
});

test('a client write sends nothing after its deadline and waits no longer for a peer', async () => {
  const sent: { node: number; at: number; timeoutMs: number }[] = [];
  const conn = (n: SdNode) => ({
    request: (_h: SdHeader, _p: Buffer | undefined, timeoutMs: number) => {
      sent.push({ node: n.port, at: Date.now(), timeoutMs });
      // B never answers (a stopped sheep): the connection gives up at the timeout
      if (n === B) return new Promise((_r, reject) => setTimeout(() => reject(new SdError(SD_RES.NETWORK_ERROR, 'no reply')), timeoutMs));
      return Promise.resolve({ hdr: { result: SD_RES.SUCCESS, epoch: 1 }, data: Buffer.alloc(0) });
    },
  });
  const group = {
    epoch: 1, cinfo: { nrCopies: 3, copyPolicy: 0, blockSizeShift: 22 },
    ring: { isEmpty: false, holders: () => [A, B, C] }, waitForEpoch: async () => {},
  };
  const s = {
    group, log, stopping: false, self: D, vdis: new Map(), peers: { peerConn: async (n: SdNode) => conn(n), readyPeerConn: () => undefined },
  } as unknown as GatewayDeps;
  const gw = new Gateway(s);
  const started = Date.now();
  const deadline = started + 400;
  let code = SD_RES.SUCCESS as number;
  await Promise.race([
    gw.write({ oid: (1n << 32n) | 1n, offset: 0, copies: 3, copyPolicy: 0, flags: 0, deadline }, Buffer.alloc(4096, 1))
      .catch((e: SdError) => { code = e.code; }),
    new Promise((r) => setTimeout(r, 3_000).unref()),
  ]);
  assert.is(code, SD_RES.NETWORK_ERROR, 'the write failed by its deadline');
  assert.ok(Date.now() - started < 1_500, `ended ${Date.now() - started} ms after it began`);
  for (const r of sent) {
    assert.ok(r.at < deadline, 'nothing sent after the deadline');
    assert.ok(r.at + r.timeoutMs <= deadline + 5, 'no peer request waits past the deadline');
  }
});

test('timeouts nest: sheepfs outlives the gateway on writes, FUSE outlives sheepfs', () => {
  assert.ok(GATEWAY_REQUEST_MAX_MS > GATEWAY_RETRY_DEADLINE_MS);
  assert.ok(DEFAULT_LIMITS.writeTryTimeoutMs > GATEWAY_REQUEST_MAX_MS, 'one write attempt outlives the gateway');
  assert.ok(DEFAULT_LIMITS.writeDeadlineMs >= DEFAULT_LIMITS.writeTryTimeoutMs);
  assert.ok(FUSE_OP_TIMEOUT_MS > DEFAULT_LIMITS.writeDeadlineMs && FUSE_OP_TIMEOUT_MS > DEFAULT_LIMITS.opDeadlineMs);
});

test.run();
