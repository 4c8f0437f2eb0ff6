/**
 * A degraded EC write removes the strips nobody holds now (issue 13, defect 4):
 * "no such strip" is the expected answer; any other failure must fail the
 * write rather than leave an out-of-date strip that recovery would trust.
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ecCode } from '../../shared/ec/code.js';
import { resultOf, SdError } from '../../shared/errors.js';
import { makeNode, type SdNode } from '../../shared/node.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_RES } from '../../shared/proto/results.js';
import { EcIo, ecStripFileSize, type EcDeps, type EcGeometry } from '../../sheep/ec-io.js';
import { Logger } from '../../sheep/log.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const members = [1, 2, 3, 4].map((i) => makeNode(`127.0.0.${i}`, 7100 + i, { nrVnodes: 128 }));
const OBJ = 4 << 20;
const g: EcGeometry = { policy: 0x42, code: ecCode(4, 2), objSize: OBJ, stripFileSize: ecStripFileSize(OBJ, 4) };

type Drop = { dropUnheldStrips: (oid: bigint, g: EcGeometry, from: number) => Promise<void> };

function ecWith(answer: (n: SdNode, h: SdHeader) => void): Drop {
  const peer = async (n: SdNode, h: SdHeader) => { answer(n, h); return { hdr: h, data: Buffer.alloc(0) }; };
  const s = { group: { epoch: 3, members }, gateway: { peer }, log } as unknown as EcDeps;
  return new EcIo(s) as unknown as Drop;
}

test('strips nobody has are fine', async () => {
  const ec = ecWith(() => { throw new SdError(SD_RES.NO_OBJ); });
  await ec.dropUnheldStrips(0x1n, g, 4);
});

test('a member that cannot remove its old strip fails the write', async () => {
  const ec = ecWith((n, h) => {
    if (n === members[2] && h.objEcIndex === 5) throw new SdError(SD_RES.EIO, 'disk error');
    throw new SdError(SD_RES.NO_OBJ);
  });
  let code: number = SD_RES.SUCCESS;
  await ec.dropUnheldStrips(0x1n, g, 4).catch((e) => { code = resultOf(e); });
  assert.is(code, SD_RES.EIO);
});

test('an unreachable member fails it with a retryable result', async () => {
  const ec = ecWith((n) => {
    if (n === members[1]) throw new SdError(SD_RES.NETWORK_ERROR, 'no answer');
    throw new SdError(SD_RES.NO_OBJ);
  });
  let code: number = SD_RES.SUCCESS;
  await ec.dropUnheldStrips(0x1n, g, 4).catch((e) => { code = resultOf(e); });
  assert.is(code, SD_RES.NETWORK_ERROR);
});

test.run();
