/**
 * A bare NBD client for tests, made of the server's own codec: the fixed
 * newstyle handshake with NBD_OPT_GO (or NBD_OPT_EXPORT_NAME), then one
 * request at a time. Real clients (qemu, libnbd) test the server for real;
 * this one reaches what they hide (raw errors, holding a connection open).
 */
import net from 'node:net';
import {
  encodeInfoRequest, encodeOptionHeader, NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_OPT,
  NBD_REP, encodeRequest, NBD_CMD,
} from '../../sheep/nbd/proto.js';

export { NBD_CMD };

type Where = { port: number; host?: string } | { path: string };

export class TestNbdClient {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private closed = false;
  size = 0n;
  flags = 0;
  private cookie = 1n;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => { this.buf = Buffer.concat([this.buf, c]); this.wake?.(); });
    sock.on('close', () => { this.closed = true; this.wake?.(); });
    sock.on('error', () => {});
  }

  private async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((r) => { this.wake = r; });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Connect and GO to `name`; throws with the option reply type when refused. */
  static async open(where: Where, name: string, how: 'go' | 'export-name' = 'go'): Promise<TestNbdClient> {
    const sock = net.connect(where as net.NetConnectOpts);
    await new Promise<void>((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
    const c = new TestNbdClient(sock);
    const hello = await c.read(18);
    if (hello.toString('latin1', 0, 8) !== 'NBDMAGIC') throw new Error('no NBD greeting');
    const cf = Buffer.alloc(4);
    cf.writeUInt32BE(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    sock.write(cf);
    if (how === 'export-name') {
      const n = Buffer.from(name);
      sock.write(Buffer.concat([encodeOptionHeader(NBD_OPT.EXPORT_NAME, n.length), n]));
      const r = await c.read(10);
      c.size = r.readBigUInt64BE(0);
      c.flags = r.readUInt16BE(8);
      return c;
    }
    const data = encodeInfoRequest(name);
    sock.write(Buffer.concat([encodeOptionHeader(NBD_OPT.GO, data.length), data]));
    for (;;) {
      const h = await c.read(20);
      const type = h.readUInt32BE(12);
      const body = await c.read(h.readUInt32BE(16));
      if (type === NBD_REP.ACK) return c;
      if (type === NBD_REP.INFO && body.readUInt16BE(0) === 0) {
        c.size = body.readBigUInt64BE(2);
        c.flags = body.readUInt16BE(10);
      } else if (type >= 0x80000000) {
        sock.destroy();
        throw Object.assign(new Error(`GO refused (0x${type.toString(16)}): ${body.toString()}`), { replyType: type });
      }
    }
  }

  /** One request; resolves with the simple reply's error and the data of a read. */
  async request(type: number, offset: number, length: number, data?: Buffer, flags = 0): Promise<{ error: number; data: Buffer }> {
    const cookie = this.cookie++;
    this.sock.write(encodeRequest({ flags, type, cookie, offset: BigInt(offset), length }));
    if (data) this.sock.write(data);
    const r = await this.read(16);
    if (r.readBigUInt64BE(8) !== cookie) throw new Error('reply to another request');
    const error = r.readUInt32BE(4);
    const body = type === NBD_CMD.READ && error === 0 ? await this.read(length) : Buffer.alloc(0);
    return { error, data: body };
  }

  async disconnect(): Promise<void> {
    this.sock.write(encodeRequest({ flags: 0, type: NBD_CMD.DISC, cookie: 0n, offset: 0n, length: 0 }));
    while (!this.closed) await new Promise<void>((r) => { this.wake = r; });
  }

  destroy(): void {
    this.sock.destroy();
  }
}


