/**
 * The sheep reads large READ_OBJ replies into pooled buffers and reuses one
 * only once its reply is written. A client that asks for two different
 * objects over and over without reading (so the replies queue in the socket)
 * must still get each object's own bytes: a buffer reused while a pending
 * socket write still held it would send the other object's data.
 */
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { vidToDataOid } from '../../shared/oid.js';
import { HEADER_SIZE, SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { TestCluster } from '../lib/cluster.js';

const OBJ = 4 * 1024 * 1024;
/** vid of the first VDI named "test" (the name's hash) */
const VID = 0x7c2b25;

let cluster: TestCluster;

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 1, copies: 1 });
  await cluster.dogOk(['vdi', 'create', 'test', '16M']);
  await cluster.dogOk(['vdi', 'write', 'test'], { input: Buffer.concat([Buffer.alloc(OBJ, 0xa1), Buffer.alloc(OBJ, 0xb2)]) });
});

test.after(async () => {
  await cluster?.cleanup();
});

test('replies queued behind an unread socket keep their own bytes', async () => {
  const ROUNDS = 6;
  const sock = net.createConnection({ host: '127.0.0.1', port: cluster.port(0) });
  await new Promise<void>((r, j) => { sock.once('connect', () => r()); sock.once('error', j); });
  sock.pause();
  const chunks: Buffer[] = [];
  let have = 0;
  const want = 2 * ROUNDS * (HEADER_SIZE + OBJ);
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      if (have >= want) resolve();
    });
    sock.on('error', reject);
    sock.on('close', () => reject(new Error(`closed after ${have} of ${want} bytes`)));
  });
  const reqs: Buffer[] = [];
  for (let i = 0; i < 2 * ROUNDS; i++) {
    const h = SdHeader.request(SD_OP.READ_OBJ, 0, OBJ);
    h.id = i + 1;
    h.objOid = vidToDataOid(VID, i % 2);
    reqs.push(h.buf);
  }
  // one at a time, so a later request's read may take a buffer an earlier one's
  // (unread, so still queued) reply used: the pacing only gives the sheep time
  // to answer; a slow sheep makes the test weaker, never wrong
  for (const r of reqs) {
    sock.write(r);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  sock.resume();
  await done;
  sock.destroy();
  const all = Buffer.concat(chunks);
  for (let at = 0, n = 0; n < 2 * ROUNDS; n++) {
    const h = new SdHeader(Buffer.from(all.subarray(at, at + HEADER_SIZE)));
    assert.is(h.result, SD_RES.SUCCESS);
    assert.is(h.dataLength, OBJ);
    const data = all.subarray(at + HEADER_SIZE, at + HEADER_SIZE + OBJ);
    const fill = (h.id - 1) % 2 === 0 ? 0xa1 : 0xb2;
    assert.ok(data.every((b) => b === fill), `reply ${h.id} carries the bytes of object ${(h.id - 1) % 2}`);
    at += HEADER_SIZE + OBJ;
  }
});

test.run();
