/**
 * The guards of payload buffer reuse: the pool lends a buffer to one owner and
 * takes it back once (a second give-back, or a foreign buffer, is a bug); a
 * forgotten buffer is never lent again; and SheepConnection settles a request
 * only when the socket no longer reads its payload, even when the reply comes
 * while the payload is still being written (a pending socket write still
 * holds the buffer: reusing it then would send wrong data).
 */
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BufferPool } from '../../shared/buffer-pool.js';
import { SheepConnection } from '../../shared/client.js';
import { HEADER_SIZE, SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { waitFor } from '../lib/cluster.js';

test('a buffer given back is lent again; twice or foreign throws; forgotten is never reused', () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.take();
  assert.is(a.length, 1024);
  assert.ok(pool.lends(a));
  pool.give(a);
  assert.not.ok(pool.lends(a));
  assert.throws(() => pool.give(a), /given back twice/);
  assert.throws(() => pool.give(Buffer.alloc(1024)), /did not lend/);
  assert.is(pool.take(), a, 'the idle buffer is reused');
  const b = pool.take();
  pool.forget(b);
  pool.give(a);
  const c = pool.take();
  const d = pool.take();
  assert.is(c, a);
  assert.is.not(d, b, 'a forgotten buffer is not lent again');
});

test('idle buffers are capped', () => {
  const pool = new BufferPool(16, 2);
  const lent = [pool.take(), pool.take(), pool.take()];
  for (const b of lent) pool.give(b);
  assert.is(pool.idle, 2);
});

test('a request settles only after its payload is written, even if the reply came first', async () => {
  // a server that answers on the header alone, and reads the payload only when told
  let serverSock: net.Socket | undefined;
  let replied = false;
  const server = net.createServer((sock) => {
    serverSock = sock;
    let got = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < HEADER_SIZE || replied) return;
      const req = new SdHeader(Buffer.from(got.subarray(0, HEADER_SIZE)));
      const rsp = SdHeader.responseTo(req, SD_RES.SUCCESS, 0);
      sock.write(rsp.buf, () => { replied = true; });
      sock.pause();
      sock.off('data', onData);
    };
    sock.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const c = await SheepConnection.connect({ host: '127.0.0.1', port });
  try {
    // far more than loopback's socket buffers hold: the write stays pending
    const payload = Buffer.alloc(64 * 1024 * 1024, 0x5a);
    let settled = false;
    const p = c.request(SdHeader.request(SD_OP.WRITE_OBJ, 1, payload.length), payload, 30_000).then((r) => { settled = true; return r; });
    await waitFor('the early reply', () => replied, 10_000);
    // the reply reaches the client at once on loopback; give it a few turns
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    assert.not.ok(settled, 'settled while the payload was still being written');
    serverSock!.on('data', () => {});
    serverSock!.resume();
    const r = await p;
    assert.ok(settled);
    assert.is(r.hdr.result, SD_RES.SUCCESS);
  } finally {
    c.close();
    serverSock?.destroy();
    server.close();
  }
});

test('a reply read into the caller\'s buffer: written there until the request settles, never after', async () => {
  // a server that sends the first MiB of a 4 MiB reply, then (after the client hung up) the rest
  let serverSock: net.Socket | undefined;
  let reqHdr: SdHeader | undefined;
  const server = net.createServer((sock) => {
    serverSock = sock;
    sock.once('data', (d: Buffer) => {
      reqHdr = new SdHeader(Buffer.from(d.subarray(0, HEADER_SIZE)));
      const rsp = SdHeader.responseTo(reqHdr, SD_RES.SUCCESS, 0);
      rsp.dataLength = 4 * 1024 * 1024;
      sock.write(Buffer.concat([rsp.buf, Buffer.alloc(1024 * 1024, 0x11)]));
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const c = await SheepConnection.connect({ host: '127.0.0.1', port });
  try {
    const into = Buffer.alloc(4 * 1024 * 1024, 0xee);
    const settled = c.request(SdHeader.request(SD_OP.READ_OBJ, 0, into.length), undefined, 30_000, into).then(() => undefined, (e: Error) => e);
    await waitFor('the first MiB in the caller\'s buffer', () => into[1024 * 1024 - 1] === 0x11, 10_000, 10);
    c.close();
    assert.ok(await settled, 'the request failed with the connection');
    const seen = Buffer.from(into);
    // the rest arrives after the request settled: it must not land in `into`
    serverSock!.write(Buffer.alloc(3 * 1024 * 1024, 0x22), () => {});
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(into.equals(seen), 'nothing written into the buffer after the request settled');
  } finally {
    c.close();
    serverSock?.destroy();
    server.close();
  }
});

test.run();
