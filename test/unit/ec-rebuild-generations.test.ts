/**
 * Rebuilding an erasure-coded strip never decodes strips of two write
 * generations (issue 13): a block acknowledged in a later epoch read back torn
 * when a strip as of an older epoch was mixed in.
 *
 * The scene, 4:2 on six nodes N0..N5, object written in full in epoch 1 (gen1):
 * - epoch 2: N4 and N5 down, four holders [N0 N1 N2 N3]; a write completes
 *   (gen2 on strips 0..3 of those four);
 * - epoch 3: N4 and N5 back (their strips set aside as of epoch 1), N3 down;
 *   holders [N0 N1 N2 N4 N5], and N4 rebuilds strip 3, N5 has nothing yet.
 * The strips as of epoch 3 are three (0..2, gen2); epoch 2's fourth is on N3,
 * which is down; epoch 1 offers N4's old strip 4 (gen1). Decoding 0..2 with
 * it gives a strip 3 of neither generation. The rebuild must wait for N3
 * (an error recovery retries), and once N3 is back return its gen2 strip 3.
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeStripes, ecCode } from '../../shared/ec/code.js';
import { resultOf, SdError } from '../../shared/errors.js';
import { makeNode, sameNode, type SdNode } from '../../shared/node.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import type { SdHeader } from '../../shared/proto/header.js';
import { SD_RES } from '../../shared/proto/results.js';
import { EcIo } from '../../sheep/ec-io.js';
import { Logger } from '../../sheep/log.js';
import type { Sheep } from '../../sheep/sheep.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const N = [0, 1, 2, 3, 4, 5].map((i) => makeNode(`127.0.0.${i + 1}`, 7101 + i, { nrVnodes: 128 }));
const OBJ = 1 << 20;
const POLICY_4_2 = 0x22;
const code = ecCode(4, 2);

/** An object's bytes of one generation: different in every stripe, and between generations. */
function objectOf(gen: number): Buffer {
  const b = Buffer.alloc(OBJ);
  for (let at = 0; at < OBJ; at += 4) b.writeUInt32LE((Math.imul(at + 1, 0x9e3779b1) ^ Math.imul(gen, 0x85ebca6b)) >>> 0, at);
  return b;
}
const gens = new Map([1, 2].map((g) => [g, encodeStripes(objectOf(g), code)]));

/** What a node holds of strip j: its generation, and the epoch tag when it is a stale copy. */
interface Copy { node: number; j: number; gen: number; staleTag?: number }

/** An EcIo at epoch 3 whose members are `up`, each answering from `copies` as the peer ops do. */
function ecWith(up: number[], copies: Copy[]): EcIo {
  const peer = async (n: SdNode, h: SdHeader) => {
    const i = N.findIndex((m) => sameNode(m, n));
    if (!up.includes(i)) throw new SdError(SD_RES.NETWORK_ERROR, 'down');
    const recovery = (h.flags & SD_FLAG.CMD_RECOVERY) !== 0;
    const live = copies.find((c) => c.node === i && c.j === h.objEcIndex && c.staleTag === undefined);
    const stale = copies.find((c) => c.node === i && c.j === h.objEcIndex && c.staleTag !== undefined && c.staleTag >= h.objTgtEpoch);
    const copy = live ?? (recovery ? stale : undefined);
    if (!copy) throw new SdError(SD_RES.NO_OBJ);
    return { hdr: h, data: gens.get(copy.gen)![copy.j]!.subarray(h.objOffset, h.objOffset + h.dataLength) };
  };
  const s = {
    group: { epoch: 3, members: up.map((i) => N[i]!), ring: { isEmpty: true }, cinfo: { ctime: 1n } },
    gateway: { peer, copyPolicy: () => POLICY_4_2, objSize: () => OBJ },
    epochRecord: async () => undefined,
    log,
  } as unknown as Sheep;
  return new EcIo(s);
}

const copies: Copy[] = [
  { node: 0, j: 0, gen: 2 }, { node: 1, j: 1, gen: 2 }, { node: 2, j: 2, gen: 2 }, { node: 3, j: 3, gen: 2 },
  { node: 4, j: 4, gen: 1, staleTag: 1 }, { node: 5, j: 5, gen: 1, staleTag: 1 },
];
const lists = [[N[0]!, N[1]!, N[2]!, N[4]!, N[5]!], [N[0]!, N[1]!, N[2]!, N[3]!], [...N]];
const epochs = [3, 2, 1];

test('the holder of the newest strips is down: no strip decoded from a mix (an error to retry on)', async () => {
  const ec = ecWith([0, 1, 2, 4, 5], copies);
  const got = await ec.rebuildStrip(0x1n, 3, lists, epochs).then(
    (b) => (b.equals(gens.get(1)![3]!) ? 'gen1' : 'a mix of generations'),
    (e) => resultOf(e),
  );
  assert.is(got, SD_RES.EIO);
});

test('once it is back: its strip, of the newest generation', async () => {
  const ec = ecWith([0, 1, 2, 3, 4, 5], copies);
  const strip = await ec.rebuildStrip(0x1n, 3, lists, epochs);
  assert.ok(strip.equals(gens.get(2)![3]!), 'strip 3 of gen2');
});

test('a parity strip: decoded from the newest generation only', async () => {
  const ec = ecWith([0, 1, 2, 3, 4, 5], copies);
  const strip = await ec.rebuildStrip(0x1n, 4, lists, epochs);
  assert.ok(strip.equals(gens.get(2)![4]!), 'strip 4 of gen2, not the old copy N4 set aside');
});

test.run();
