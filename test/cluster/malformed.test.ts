/**
 * Malformed requests get an error reply or a closed connection, and the sheep
 * keeps serving everyone else.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SheepConnection } from '../../shared/client.js';
import { vidToDataOid } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { HEADER_SIZE, SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { pidAlive, TestCluster } from '../lib/cluster.js';

let cluster: TestCluster;
let port: number;

/** What came back on a raw socket: reply headers until the peer closed or went quiet. */
function rawExchange(bytes: Buffer, quietMs = 1500): Promise<{ replies: SdHeader[]; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    let closed = false;
    let timer: NodeJS.Timeout;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const replies: SdHeader[] = [];
      for (let at = 0; at + HEADER_SIZE <= buf.length;) {
        const h = new SdHeader(Buffer.from(buf.subarray(at, at + HEADER_SIZE)));
        replies.push(h);
        at += HEADER_SIZE + h.dataLength;
      }
      resolve({ replies, closed });
    };
    timer = setTimeout(finish, quietMs);
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    sock.on('close', () => { closed = true; finish(); });
    sock.on('error', () => {});
    sock.write(bytes);
  });
}

/** The sheep still answers a normal client: node list and a data read. */
async function stillServing(): Promise<void> {
  const c = await SheepConnection.connect({ host: '127.0.0.1', port });
  try {
    const r = await c.request(SdHeader.request(SD_OP.GET_NODE_LIST, 0, 491520), undefined, 5000);
    assert.is(r.hdr.result, SD_RES.SUCCESS);
    assert.is(r.hdr.rspNrNodes, 1);
    const h = SdHeader.request(SD_OP.READ_OBJ, 0, 4096);
    h.objOid = vidToDataOid(0x7c2b25, 0);
    const rd = await c.request(h, undefined, 5000);
    assert.is(rd.hdr.result, SD_RES.SUCCESS);
    assert.ok(rd.data.every((b) => b === 0x5a));
  } finally {
    c.close();
  }
}

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 1 });
  port = cluster.port(0);
  // format, create VDI "test" and one data object through the raw protocol
  const c = await SheepConnection.connect({ host: '127.0.0.1', port });
  const mk = SdHeader.request(SD_OP.MAKE_FS, SD_FLAG.CMD_WRITE, 6);
  mk.clusterCopies = 1;
  mk.clusterCtime = BigInt(Math.floor(Date.now() / 1000)) << 32n;
  assert.is((await c.request(mk, Buffer.from('plain\0'))).hdr.result, SD_RES.SUCCESS);
  const nv = SdHeader.request(SD_OP.NEW_VDI, SD_FLAG.CMD_WRITE, 256);
  nv.vdiSize = 1n << 30n;
  const name = Buffer.alloc(256);
  name.write('test');
  const r = await c.request(nv, name);
  assert.is(r.hdr.result, SD_RES.SUCCESS);
  assert.is(r.hdr.rspVdiId, 0x7c2b25);
  const cw = SdHeader.request(SD_OP.CREATE_AND_WRITE_OBJ, SD_FLAG.CMD_WRITE, 4096);
  cw.objOid = vidToDataOid(0x7c2b25, 0);
  assert.is((await c.request(cw, Buffer.alloc(4096, 0x5a))).hdr.result, SD_RES.SUCCESS);
  c.close();
});

test.after(async () => {
  await cluster?.cleanup();
});

test('wrong protocol version: VER_MISMATCH for client and internal opcodes', async () => {
  const a = SdHeader.request(SD_OP.READ_OBJ, 0, 16);
  a.protoVer = 9;
  const b = SdHeader.request(SD_OP.GET_NODE_LIST, 0, 80);
  b.protoVer = 2; // internal ops need 0x0a
  const { replies } = await rawExchange(Buffer.concat([a.buf, b.buf]));
  assert.is(replies.length, 2);
  assert.equal(replies.map((h) => h.result), [SD_RES.VER_MISMATCH, SD_RES.VER_MISMATCH]);
  await stillServing();
});

test('unknown and unhandled opcodes: INVALID_PARMS', async () => {
  const hs = [0x77, 0x00, 0x91, 0xff].map((op) => SdHeader.request(op, 0, 0));
  const { replies } = await rawExchange(Buffer.concat(hs.map((h) => h.buf)));
  assert.equal(replies.map((h) => h.result), [SD_RES.INVALID_PARMS, SD_RES.INVALID_PARMS, SD_RES.INVALID_PARMS, SD_RES.INVALID_PARMS]);
  await stillServing();
});

test('bad lengths: a name field that is not 256 bytes, a bitmap buffer of the wrong size', async () => {
  const nv = SdHeader.request(SD_OP.NEW_VDI, SD_FLAG.CMD_WRITE, 100);
  nv.vdiSize = 1n << 20n;
  const rv = SdHeader.request(SD_OP.READ_VDIS, 0, 1000);
  const { replies } = await rawExchange(Buffer.concat([nv.buf, Buffer.alloc(100, 0x41), rv.buf]));
  assert.equal(replies.map((h) => h.result), [SD_RES.INVALID_PARMS, SD_RES.INVALID_PARMS]);
  assert.is(replies[1]!.dataLength, 0);
  await stillServing();
});

test('a read beyond the object is refused, not served', async () => {
  const h = SdHeader.request(SD_OP.READ_OBJ, 0, 8 << 20);
  h.objOid = vidToDataOid(0x7c2b25, 0);
  const { replies } = await rawExchange(h.buf);
  assert.is(replies[0]?.result, SD_RES.INVALID_PARMS);
  await stillServing();
});

test('an absurd payload length: error reply, then the connection is closed', async () => {
  const h = SdHeader.request(SD_OP.WRITE_OBJ, SD_FLAG.CMD_WRITE, 0xffffffff);
  h.objOid = vidToDataOid(0x7c2b25, 0);
  const { replies, closed } = await rawExchange(h.buf);
  assert.ok(closed, 'connection closed');
  assert.is(replies[0]?.result, SD_RES.INVALID_PARMS);
  await stillServing();
});

test('a truncated header followed by a hang-up changes nothing', async () => {
  const h = SdHeader.request(SD_OP.GET_NODE_LIST, 0, 80);
  const { replies } = await rawExchange(h.buf.subarray(0, 20), 300);
  assert.is(replies.length, 0);
  await stillServing();
});

test('garbage bytes: replies or a closed connection, never a crash', async () => {
  for (let i = 0; i < 20; i++) await rawExchange(randomBytes(48 * 5 + (i % 7)), 400);
  assert.ok(pidAlive(cluster.pids.get(0)!), 'the sheep is still running');
  await stillServing();
});

test.run();
