/**
 * Recovery of a 4:2 object while three of its six strip holders are down
 * (issue 13): the three strips that can be reached are fewer than the four
 * needed, but the object exists. Rebuilding must fail with an error recovery
 * retries and waits on (EIO), not NO_OBJ, which recovery takes for "deleted"
 * and completes over, after which every member dropped its stale copies: the
 * strips that could have rebuilt the object once the three were back.
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resultOf, SdError } from '../../shared/errors.js';
import { makeNode, sameNode, type SdNode } from '../../shared/node.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_RES } from '../../shared/proto/results.js';
import { EcIo, ecStripFileSize } from '../../sheep/ec-io.js';
import { Logger } from '../../sheep/log.js';
import type { Sheep } from '../../sheep/sheep.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const six = [1, 2, 3, 4, 5, 6].map((i) => makeNode(`127.0.0.${i}`, 7100 + i, { nrVnodes: 128 }));
const OBJ = 1 << 20;
const POLICY_4_2 = 0x22;

/** An EcIo whose members are `up`; each member holds its strip (position in `six`) and nothing else. */
function ecWith(up: SdNode[]): EcIo {
  const peer = async (n: SdNode, h: SdHeader) => {
    if (!up.some((m) => sameNode(m, n))) throw new SdError(SD_RES.NETWORK_ERROR, 'down');
    if (six.findIndex((m) => sameNode(m, n)) !== h.objEcIndex) throw new SdError(SD_RES.NO_OBJ);
    return { hdr: h, data: Buffer.alloc(h.dataLength) };
  };
  const s = {
    group: { epoch: 5, members: up, ring: { isEmpty: true }, cinfo: { ctime: 1n } },
    gateway: { peer, copyPolicy: () => POLICY_4_2, objSize: () => OBJ },
    epochRecord: async () => undefined,
    log,
  } as unknown as Sheep;
  return new EcIo(s);
}

const codeOf = (p: Promise<unknown>) => p.then(() => SD_RES.SUCCESS as number, (e) => resultOf(e));

test('3 of 6 strips reachable: EIO (the object exists), not NO_OBJ', async () => {
  const ec = ecWith(six.slice(3));
  assert.is(await codeOf(ec.rebuildStrip(0x1n, 0, [six], [4])), SD_RES.EIO);
});

test('no strip anywhere: NO_OBJ (deleted)', async () => {
  // every holder is up and answers that it has no such strip
  const ec = ecWith(six);
  const shifted = [...six.slice(1), six[0]!];
  assert.is(await codeOf(ec.rebuildStrip(0x1n, 0, [shifted], [4])), SD_RES.NO_OBJ);
});

test('every holder down: not NO_OBJ (they may hold it)', async () => {
  const ec = ecWith(six.slice(3));
  assert.is(await codeOf(ec.rebuildStrip(0x1n, 0, [[six[0]!, six[1]!, six[2]!, six[0]!, six[1]!, six[2]!]], [4])), SD_RES.EIO);
});

test('4 of 6 reachable: rebuilt', async () => {
  const ec = ecWith(six.slice(2));
  const strip = await ec.rebuildStrip(0x1n, 0, [six], [4]);
  assert.is(strip.length, ecStripFileSize(OBJ, 4));
});

test.run();
