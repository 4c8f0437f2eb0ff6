/**
 * A 4:2 write that finds a holder without its strip (its recovery of the
 * object failed for now) retries until the strip is there; it never rewrites
 * the whole object from the gateway (issue 13): another gateway's write to
 * the same object can land between that rewrite's read and its writes, and
 * the rewrite then undid it on some holders (an acknowledged block torn).
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resultOf, SdError } from '../../shared/errors.js';
import { makeNode, type SdNode } from '../../shared/node.js';
import { VnodeRing } from '../../shared/placement.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { EcIo } from '../../sheep/ec-io.js';
import { Logger } from '../../sheep/log.js';
import type { Sheep } from '../../sheep/sheep.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const six = [1, 2, 3, 4, 5, 6].map((i) => makeNode(`127.0.0.${i}`, 7100 + i, { nrVnodes: 64, zone: i }));
const OBJ = 1 << 20;
const POLICY_4_2 = 0x22;
const OID = (0x7n << 32n) | 1n;
/** Retries a test gateway makes (each answer "no strip here" until then). */
const RETRIES_MAX = 50;

/** An EcIo over six members; `lacking` answers NO_OBJ to its first `misses` strip writes (every holder with `none`). */
function ecWith(lacking: number, misses: number, none = false): { ec: EcIo; ops: string[] } {
  const ring = new VnodeRing(six);
  const holders = ring.holders(OID, 6);
  const ops: string[] = [];
  let missed = 0;
  const peer = async (n: SdNode, h: SdHeader) => {
    const j = holders.indexOf(n);
    ops.push(`${h.opcode === SD_OP.WRITE_PEER ? 'write' : h.opcode === SD_OP.CREATE_AND_WRITE_PEER ? 'create' : h.opcode === SD_OP.READ_PEER ? 'read' : h.opcode} ${j}`);
    if (none) throw new SdError(SD_RES.NO_OBJ);
    if (h.opcode === SD_OP.WRITE_PEER && j === lacking && missed < misses) {
      missed++;
      throw new SdError(SD_RES.NO_OBJ);
    }
    return { hdr: h, data: Buffer.alloc(h.opcode === SD_OP.READ_PEER ? h.dataLength : 0) };
  };
  const retrying = async <T>(_what: string, fn: (deadline: number) => Promise<T>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(Date.now() + 1000);
      } catch (e) {
        if (resultOf(e) !== SD_RES.NETWORK_ERROR || attempt >= RETRIES_MAX) throw e;
      }
    }
  };
  const s = {
    group: { epoch: 3, members: six, ring, cinfo: { ctime: 1n } },
    gateway: { peer, retrying, copyPolicy: () => POLICY_4_2, objSize: () => OBJ },
    epochRecord: async () => undefined,
    log,
  } as unknown as Sheep;
  return { ec: new EcIo(s), ops };
}

const io = { oid: OID, offset: 0, copies: 6, copyPolicy: POLICY_4_2, flags: 0 };

test('a holder without its strip: the write is retried until it has it, and nothing else is written', async () => {
  const { ec, ops } = ecWith(2, 3);
  await ec.write(io, Buffer.alloc(4096, 0xab), false);
  assert.equal(ops.filter((o) => o.startsWith('create')), [], 'no CREATE_AND_WRITE_PEER (no rewrite of the object)');
  assert.equal(ops.filter((o) => o.startsWith('read')), [], 'nothing read back to rewrite');
  assert.is(ops.filter((o) => o === 'write 2').length, 4, 'holder 2 asked until it took the write');
});

test('no holder has the object: NO_OBJ at once', async () => {
  const { ec } = ecWith(-1, 0, true);
  const code = await ec.write(io, Buffer.alloc(4096), false).then(() => SD_RES.SUCCESS as number, (e) => resultOf(e));
  assert.is(code, SD_RES.NO_OBJ);
});

test.run();
