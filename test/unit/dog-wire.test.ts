/**
 * dog's commands against a small in-process fake sheep: the requests they send
 * (copy-on-write, slot updates, delete batches), pipelining, zero fill, and the
 * messages of failure paths (refused connection, no reply, foreign replies).
 */
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeInodeHeader, newInodeBuffer, slotOffset, type InodeHeader } from '../../shared/inode.js';
import { encodeNodes, makeNode } from '../../shared/node.js';
import { SD_INODE_SIZE, vidToDataOid, vidToVdiOid, isVdiObj } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { FrameReader } from '../../shared/proto/frame.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Dog } from '../../dog/context.js';
import { ExitNow } from '../../dog/exit.js';
import { startCapture, stopCapture, type Capture } from '../../dog/output.js';
import * as readCmd from '../../dog/vdi/read.js';
import * as writeCmd from '../../dog/vdi/write.js';
import * as deleteCmd from '../../dog/vdi/delete.js';
import * as listCmd from '../../dog/vdi/list.js';

const MiB = 1024 * 1024;
const OBJ = 4 * MiB;
const VID = 0x7c2b25;
const PARENT = 0x7c2b24;

interface Seen {
  op: number;
  oid: bigint;
  cow: bigint;
  flags: number;
  offset: number;
  len: number;
  payload?: Buffer;
}

type Override = (h: SdHeader, p: Buffer | undefined) => { result: number; data?: Buffer } | 'hang' | undefined;

class FakeSheep {
  readonly objects = new Map<bigint, Buffer>();
  readonly seen: Seen[] = [];
  readonly vdis = new Map<string, number>();
  override: Override | undefined;
  private server!: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  inFlightMax = 0;
  private inFlight = 0;

  async start(): Promise<void> {
    this.server = net.createServer((sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      const reader = new FrameReader((h) => (h.isWrite ? h.dataLength : 0), (h, p) => {
        this.inFlight++;
        this.inFlightMax = Math.max(this.inFlightMax, this.inFlight);
        // answer on the next turn so that pipelined requests pile up
        setImmediate(() => {
          this.inFlight--;
          this.answer(sock, h, p && Buffer.from(p));
        });
      });
      sock.on('data', (d) => reader.push(d));
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }

  addVdi(name: string, h: Partial<InodeHeader>, slots: [number, number][] = []): Buffer {
    const inode = newInodeBuffer();
    encodeInodeHeader({
      name, tag: '', createTime: 1n << 32n, snapCtime: 0n, vmClockNsec: 0n, vdiSize: 16 * MiB, vmStateSize: 0n,
      copyPolicy: 0, storePolicy: 0, nrCopies: 3, blockSizeShift: 22, snapId: 1, vdiId: VID, parentVdiId: 0,
      btreeCounter: 0, ...h,
    }, inode);
    for (const [i, v] of slots) inode.writeUInt32LE(v, slotOffset(i));
    const vid = h.vdiId ?? VID;
    this.objects.set(vidToVdiOid(vid), inode);
    this.vdis.set(name, vid);
    return inode;
  }

  private reply(sock: net.Socket, req: SdHeader, result: number, data: Buffer = Buffer.alloc(0), patch?: (h: SdHeader) => void) {
    const h = SdHeader.responseTo(req, result, 1, data.length);
    patch?.(h);
    sock.write(h.buf);
    if (data.length) sock.write(data);
  }

  private answer(sock: net.Socket, h: SdHeader, p: Buffer | undefined): void {
    this.seen.push({ op: h.opcode, oid: h.objOid, cow: h.objCowOid, flags: h.flags, offset: h.objOffset, len: h.dataLength, payload: p });
    const o = this.override?.(h, p);
    if (o === 'hang') return;
    if (o) return this.reply(sock, h, o.result, o.data);
    switch (h.opcode) {
      case SD_OP.GET_NODE_LIST:
        return this.reply(sock, h, SD_RES.SUCCESS, encodeNodes([makeNode('127.0.0.1', this.port, { zone: 0 })]));
      case SD_OP.STAT_CLUSTER:
        return this.reply(sock, h, SD_RES.SUCCESS, Buffer.alloc(Math.min(h.dataLength, 48)));
      case SD_OP.GET_VDI_INFO: {
        const name = p!.subarray(0, p!.indexOf(0)).toString();
        const vid = this.vdis.get(name);
        if (vid === undefined) return this.reply(sock, h, SD_RES.NO_VDI);
        return this.reply(sock, h, SD_RES.SUCCESS, undefined, (r) => { r.rspVdiId = vid; });
      }
      case SD_OP.READ_OBJ: {
        const obj = this.objects.get(h.objOid);
        if (!obj) return this.reply(sock, h, SD_RES.NO_OBJ);
        const out = Buffer.alloc(h.dataLength);
        obj.copy(out, 0, h.objOffset, Math.min(obj.length, h.objOffset + h.dataLength));
        return this.reply(sock, h, SD_RES.SUCCESS, out);
      }
      case SD_OP.CREATE_AND_WRITE_OBJ: {
        const obj = Buffer.alloc(isVdiObj(h.objOid) ? SD_INODE_SIZE : OBJ);
        if (h.flags & SD_FLAG.CMD_COW) this.objects.get(h.objCowOid)?.copy(obj);
        p?.copy(obj, h.objOffset);
        this.objects.set(h.objOid, obj);
        return this.reply(sock, h, SD_RES.SUCCESS);
      }
      case SD_OP.WRITE_OBJ: {
        const obj = this.objects.get(h.objOid);
        if (!obj) return this.reply(sock, h, SD_RES.NO_OBJ);
        p?.copy(obj, h.objOffset);
        return this.reply(sock, h, SD_RES.SUCCESS);
      }
      case SD_OP.DEL_VDI:
        return this.reply(sock, h, SD_RES.SUCCESS);
      default:
        return this.reply(sock, h, SD_RES.INVALID_PARMS);
    }
  }
}

let sheep: FakeSheep;
let cap: Capture;

function newDog(port = sheep.port): Dog {
  const d = new Dog();
  d.target = { host: '127.0.0.1', port };
  return d;
}

test.before.each(async () => {
  sheep = new FakeSheep();
  await sheep.start();
  cap = startCapture();
});

test.after.each(async () => {
  stopCapture();
  await sheep.stop();
});

const source = (data: Buffer) => {
  let off = 0;
  return async (buf: Buffer, len: number) => {
    const n = Math.min(len, data.length - off);
    data.copy(buf, 0, off, off + n);
    off += n;
    return n;
  };
};

test('vdi write: creates objects per object-sized piece, then points their slots', async () => {
  sheep.addVdi('test', {});
  const data = Buffer.alloc(6 * MiB, 0x61);
  const dog = newDog();
  const code = await writeCmd.writeFrom(dog, ['test', '1M', '6M'], source(data));
  assert.is(code, 0, cap.stderr);
  const creates = sheep.seen.filter((s) => s.op === SD_OP.CREATE_AND_WRITE_OBJ);
  assert.equal(creates.map((c) => [c.oid, c.offset, c.len, c.cow]), [
    [vidToDataOid(VID, 0), MiB, 3 * MiB, 0n], [vidToDataOid(VID, 1), 0, 3 * MiB, 0n],
  ]);
  const slots = sheep.seen.filter((s) => s.op === SD_OP.WRITE_OBJ);
  assert.equal(slots.map((s) => [s.oid, s.offset, s.payload!.readUInt32LE(0)]), [
    [vidToVdiOid(VID), slotOffset(0), VID], [vidToVdiOid(VID), slotOffset(1), VID],
  ]);
  const o0 = sheep.objects.get(vidToDataOid(VID, 0))!;
  assert.ok(o0.subarray(0, MiB).every((b) => b === 0) && o0.subarray(MiB).every((b) => b === 0x61));
  assert.is(cap.stderr, '');
});

test('vdi write: copy-on-write from the parent, plain writes to own objects, pipelined', async () => {
  sheep.addVdi('test', { parentVdiId: PARENT, snapId: 2 }, [[0, PARENT], [1, VID]]);
  sheep.objects.set(vidToDataOid(PARENT, 0), Buffer.alloc(OBJ, 0x70));
  sheep.objects.set(vidToDataOid(VID, 1), Buffer.alloc(OBJ));
  const dog = newDog();
  const code = await writeCmd.writeFrom(dog, ['test', '4194300', '16'], source(Buffer.alloc(16, 0x41)));
  assert.is(code, 0, cap.stderr);
  const w = sheep.seen.filter((s) => s.op === SD_OP.CREATE_AND_WRITE_OBJ || s.op === SD_OP.WRITE_OBJ);
  assert.equal(w.map((s) => [s.op, s.oid, s.cow, !!(s.flags & SD_FLAG.CMD_COW), s.offset, s.len]), [
    [SD_OP.CREATE_AND_WRITE_OBJ, vidToDataOid(VID, 0), vidToDataOid(PARENT, 0), true, OBJ - 4, 4],
    [SD_OP.WRITE_OBJ, vidToDataOid(VID, 1), 0n, false, 0, 12],
    [SD_OP.WRITE_OBJ, vidToVdiOid(VID), 0n, false, slotOffset(0), 4],
  ]);
  const o0 = sheep.objects.get(vidToDataOid(VID, 0))!;
  assert.is(o0[0], 0x70);
  assert.is(o0[OBJ - 1], 0x41);

  // a whole VDI keeps several requests in flight
  sheep.addVdi('big', { vdiId: 0x111111, vdiSize: 64 * MiB });
  const big = await writeCmd.writeFrom(newDog(), ['big'], source(Buffer.alloc(64 * MiB, 1)));
  assert.is(big, 0);
  assert.ok(sheep.inFlightMax >= 4, `in flight: ${sheep.inFlightMax}`);
});

test('vdi write: empty stdin still writes one zero-filled piece', async () => {
  sheep.addVdi('test', {});
  const code = await writeCmd.writeFrom(newDog(), ['test', '1M'], source(Buffer.alloc(0)));
  assert.is(code, 0);
  const creates = sheep.seen.filter((s) => s.op === SD_OP.CREATE_AND_WRITE_OBJ);
  assert.equal(creates.map((c) => [c.offset, c.len]), [[MiB, 3 * MiB]]);
  assert.ok(creates[0]!.payload!.every((b) => b === 0));
});

test('vdi write: failures and their messages', async () => {
  sheep.addVdi('test', {});
  sheep.override = (h) => (h.opcode === SD_OP.CREATE_AND_WRITE_OBJ ? { result: SD_RES.NO_SPACE } : undefined);
  const code = await writeCmd.writeFrom(newDog(), ['test'], source(Buffer.alloc(16 * MiB)));
  assert.is(code, 1);
  assert.is(cap.stderr, 'Failed to write object 7c2b2500000000: Server has no space for new objects\nFailed to write VDI\n');
  cap.stderr = '';
  assert.is(await writeCmd.writeFrom(newDog(), ['test', '17M'], source(Buffer.alloc(1))), 1);
  assert.is(cap.stderr, 'Write offset is beyond the end of the VDI\n');
  cap.stderr = '';
  assert.is(await writeCmd.writeFrom(newDog(), ['nosuch', '0', '1'], source(Buffer.alloc(1))), 1);
  assert.is(cap.stderr, 'Failed to open VDI nosuch (snapshot id: 0 snapshot tag: ): No VDI found\n');
  cap.stderr = '';
  assert.is(await writeCmd.writeFrom(newDog(), ['test', '10X'], source(Buffer.alloc(1))), 64);
  assert.is(cap.stderr, "Invalid size '10X'\nYou may use B, K, M, G, T or P suffixes for bytes, kilobytes, megabytes, gigabytes, terabytes and petabytes.\n");
});

test('vdi read: unallocated objects read as zeros without a request; length clamped to the VDI', async () => {
  sheep.addVdi('test', {}, [[1, VID]]);
  sheep.objects.set(vidToDataOid(VID, 1), Buffer.alloc(OBJ, 0x62));
  const code = await readCmd.run(newDog(), ['test', '3M', '100M']);
  assert.is(code, 0, cap.stderr);
  const data = Buffer.concat(cap.binary);
  assert.is(data.length, 13 * MiB);
  assert.ok(data.subarray(0, MiB).every((b) => b === 0));
  assert.ok(data.subarray(MiB, 5 * MiB).every((b) => b === 0x62));
  assert.ok(data.subarray(5 * MiB).every((b) => b === 0));
  const reads = sheep.seen.filter((s) => s.op === SD_OP.READ_OBJ && !isVdiObj(s.oid));
  assert.equal(reads.map((r) => [r.oid, r.offset, r.len]), [[vidToDataOid(VID, 1), 0, OBJ]]);
  assert.is(await readCmd.run(newDog(), ['test', '17M']), 1);
  assert.is(cap.stderr, 'Read offset is beyond the end of the VDI\n');
});

test('vdi read: a failed object read', async () => {
  sheep.addVdi('test', {}, [[0, VID]]);
  assert.is(await readCmd.run(newDog(), ['test', '0', '10']), 1);
  assert.is(cap.stderr, 'Failed to read object 7c2b2500000000 No object found\nFailed to read VDI\n');
});

test('vdi delete: slot batches, then DEL_VDI; always exit 0', async () => {
  const slots: [number, number][] = [[0, VID], [2, PARENT], [3, VID]];
  sheep.addVdi('test', {}, slots);
  assert.is(await deleteCmd.run(newDog(), ['test']), 0);
  const ops = sheep.seen.map((s) => s.op);
  assert.equal(ops, [SD_OP.GET_VDI_INFO, SD_OP.READ_OBJ, SD_OP.WRITE_OBJ, SD_OP.DEL_VDI]);
  const w = sheep.seen[2]!;
  assert.equal([w.offset, w.len], [slotOffset(0), 4 * 4]);
  assert.ok(w.payload!.every((b) => b === 0));
  assert.is(await deleteCmd.run(newDog(), ['nosuch']), 0);
  assert.is(cap.stderr, 'Failed to open VDI nosuch (snapshot id: 0 snapshot tag: ): No VDI found\n');
});

test('vdi list: the bitmaps, then each inode in vid order', async () => {
  const bitmap = Buffer.alloc(2 * MiB);
  bitmap[VID >> 3]! |= 1 << (VID & 7);
  sheep.addVdi('test', {}, [[0, VID], [1, PARENT]]);
  sheep.override = (h) => (h.opcode === SD_OP.READ_VDIS ? { result: 0, data: bitmap }
    : h.opcode === SD_OP.READ_DEL_VDIS ? { result: 0, data: Buffer.alloc(2 * MiB) } : undefined);
  const dog = newDog();
  dog.raw = true;
  assert.is(await listCmd.run(dog, []), 0);
  assert.is(cap.stdout, '= test 0 16777216 4194304 4194304 1 7c2b25 3  22\n');
});

test('a refused connection is reported twice, as the original does', async () => {
  const dog = newDog(1);
  try {
    await dog.loadNodeList();
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ExitNow);
    assert.is((e as ExitNow).code, 2);
  }
  assert.is(cap.stderr, 'failed to connect to 127.0.0.1:1: Connection refused\n'.repeat(2) + 'Failed to get node list\n');
});

test('a request that never answers times out; a foreign reply is recognised', async () => {
  sheep.override = () => 'hang';
  const dog = newDog();
  dog.recvTimeoutMs = 200;
  const r = await dog.exec(SdHeader.request(SD_OP.GET_NODE_LIST, 0, 100));
  assert.is(r, undefined);
  assert.is(cap.stderr, 'failed to read a response\n');

  cap.stderr = '';
  const http = net.createServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')));
  await new Promise<void>((res) => http.listen(0, '127.0.0.1', res));
  const d2 = newDog((http.address() as net.AddressInfo).port);
  assert.is(await d2.exec(SdHeader.request(SD_OP.GET_NODE_LIST, 0, 491520)), undefined);
  assert.is(cap.stderr, 'failed to read the response data\n');
  await new Promise<void>((res) => http.close(() => res()));
});

test('no member in the node list', async () => {
  sheep.override = (h) => (h.opcode === SD_OP.GET_NODE_LIST ? { result: 0 } : undefined);
  try {
    await newDog().loadNodeList();
    assert.unreachable();
  } catch (e) {
    assert.is((e as ExitNow).code, 1);
  }
  assert.is(cap.stderr, 'There are no active sheep daemons\n');
});

test.run();
