/**
 * adoptWithOnread reaches into net's private socket handle: these tests fail
 * if a Node upgrade moves it (the sheep would then quietly fall back to 64 KiB
 * chunks). Reads must arrive through onread into the caller's buffers, writes
 * go out, and the server's connection count drops when the socket closes (so
 * server.close() completes).
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adoptWithOnread } from '../../sheep/accept-onread.js';

test('an accepted socket reads into the given buffers, answers, and is counted out on close', async () => {
  const sent = randomBytes(1024 * 1024 + 13);
  const got: Buffer[] = [];
  let reads = 0;
  let adoptedSock: net.Socket | undefined;
  const srv = net.createServer({ pauseOnConnect: true }, (raw) => {
    const scratch = Buffer.alloc(64 * 1024);
    const sock = adoptWithOnread(raw, {
      buffer: () => scratch,
      callback: (n, buf) => {
        reads++;
        assert.ok(buf === scratch, 'the read went into our buffer');
        got.push(Buffer.from(scratch.subarray(0, n)));
        if (got.reduce((s, b) => s + b.length, 0) === sent.length) sock!.end('done');
        return true;
      },
    });
    assert.ok(sock, 'this Node keeps the accepted handle where adoptWithOnread looks');
    adoptedSock = sock;
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const reply = await new Promise<string>((resolve, reject) => {
    const c = net.createConnection({ host: '127.0.0.1', port });
    let text = '';
    c.on('data', (d) => { text += d; });
    c.on('end', () => { c.end(); resolve(text); });
    c.on('error', reject);
    c.write(sent);
  });
  assert.is(reply, 'done');
  assert.ok(reads > 0);
  assert.ok(Buffer.concat(got).equals(sent), 'the bytes arrived whole and in order');
  // close() calls back only once the server counts no connection
  await new Promise<void>((r) => adoptedSock!.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server.close() did not complete: the old socket is still counted')), 5000);
    srv.close(() => { clearTimeout(t); resolve(); });
  });
});

test.run();
