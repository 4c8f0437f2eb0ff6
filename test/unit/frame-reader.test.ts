/**
 * FrameReader fed both ways: chunks pushed by a stream, and net's `onread`
 * (reads into a reused scratch buffer or straight into a large payload). Random
 * read sizes over a stream of frames with payloads of 0 bytes to 1 MiB; every
 * frame must come out whole, in order, and not alias the scratch buffer.
 * Also a real socket pair: SheepConnection reading large replies that way.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SheepConnection } from '../../shared/client.js';
import { FrameReader, READ_SCRATCH_BYTES } from '../../shared/proto/frame.js';
import { HEADER_SIZE, SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { seededRandom as mulberry32 } from '../lib/history.js';

const SIZES = [0, 1, 48, 4096, 16 * 1024 - 1, 16 * 1024, 20_000, 64 * 1024, 64 * 1024 + 7, 128 * 1024, 1024 * 1024];

function frames(rand: () => number, n: number): { hdr: SdHeader; payload: Buffer }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = SIZES[Math.floor(rand() * SIZES.length)]!;
    const hdr = SdHeader.request(SD_OP.READ_OBJ, 0, len);
    hdr.id = i + 1;
    out.push({ hdr, payload: randomBytes(len) });
  }
  return out;
}

function stream(fs: { hdr: SdHeader; payload: Buffer }[]): Buffer {
  return Buffer.concat(fs.flatMap((f) => [f.hdr.buf, f.payload]));
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`onread feeding, random read sizes (seed ${seed})`, () => {
    const rand = mulberry32(seed);
    const want = frames(rand, 60);
    const bytes = stream(want);
    const got: { id: number; payload: Buffer }[] = [];
    const r = new FrameReader((h) => h.dataLength, (h, p) => got.push({ id: h.id, payload: p ?? Buffer.alloc(0) }));
    let off = 0;
    while (off < bytes.length) {
      const target = r.readTarget();
      // a socket read fills anything from 1 byte to the whole target
      const n = Math.min(target.length, bytes.length - off, 1 + Math.floor(rand() * (rand() < 0.5 ? 100 : target.length)));
      bytes.copy(target, 0, off, off + n);
      off += n;
      r.filled(n, target);
      // the next read overwrites the scratch buffer: nothing handed out may alias it
      const next = r.readTarget();
      if (next.length === READ_SCRATCH_BYTES) next.fill(0xee);
    }
    assert.is(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      assert.is(got[i]!.id, want[i]!.hdr.id);
      assert.ok(got[i]!.payload.equals(want[i]!.payload), `frame ${i} (${want[i]!.payload.length} bytes) intact`);
    }
  });
}

test('push feeding still gives views of owned chunks', () => {
  const want = frames(mulberry32(9), 30);
  const bytes = stream(want);
  const got: Buffer[] = [];
  const r = new FrameReader((h) => h.dataLength, (_h, p) => got.push(p ?? Buffer.alloc(0)));
  for (let off = 0; off < bytes.length; off += 1000) r.push(bytes.subarray(off, off + 1000));
  assert.is(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(got[i]!.equals(want[i]!.payload));
});

test('filled() with a buffer readTarget did not give is a bug: it throws', () => {
  const r = new FrameReader((h) => h.dataLength, () => {});
  const hdr = SdHeader.request(SD_OP.READ_OBJ, 0, 1024 * 1024);
  const t = r.readTarget();
  hdr.buf.copy(t);
  r.filled(HEADER_SIZE, t);
  r.readTarget();
  assert.throws(() => r.filled(10, Buffer.alloc(100)), /not the buffer readTarget gave/);
});

test('SheepConnection reads large replies through onread, in order, intact', async () => {
  const replies = frames(mulberry32(7), 40);
  const server = net.createServer((sock) => {
    const r = new FrameReader(() => 0, (h) => {
      const f = replies[h.id - 1]!;
      const rsp = f.hdr.clone();
      rsp.id = h.id;
      sock.write(rsp.buf);
      // in odd pieces, so reads straddle frames
      for (let o = 0; o < f.payload.length; o += 33_333) sock.write(f.payload.subarray(o, o + 33_333));
    });
    sock.on('data', (c: Buffer) => r.push(c));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as net.AddressInfo).port;
  const c = await SheepConnection.connect({ host: '127.0.0.1', port });
  try {
    const got = await Promise.all(replies.map(() => c.request(SdHeader.request(SD_OP.READ_OBJ, 0, 0))));
    for (let i = 0; i < replies.length; i++) {
      assert.ok(got[i]!.data.equals(replies[got[i]!.hdr.id - 1]!.payload), `reply ${i}`);
    }
  } finally {
    c.close();
    server.close();
  }
});

test.run();
