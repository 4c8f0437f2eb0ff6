import { assert } from '../errors.js';
import { SD_FLAG } from './flags.js';
import { SD_PROTO_VER, SD_SHEEP_PROTO_VER } from './opcodes.js';

/** Size of both sd_req and sd_rsp. */
export const HEADER_SIZE = 48;

/**
 * A 48-byte request or response header, read and written in place (little-endian).
 * Field names carry the union variant they belong to: `obj*`, `vdi*`, `cluster*`,
 * `state*`, `ref*`, `forw*` for requests; `rsp*` for response variants.
 */
export class SdHeader {
  readonly buf: Buffer;

  constructor(buf?: Buffer) {
    if (buf === undefined) {
      this.buf = Buffer.alloc(HEADER_SIZE);
    } else {
      assert(buf.length === HEADER_SIZE, `header is ${HEADER_SIZE} bytes, got ${buf.length}`);
      this.buf = buf;
    }
  }

  /** A fresh request header with the protocol version the opcode needs. */
  static request(opcode: number, flags = 0, dataLength = 0): SdHeader {
    const h = new SdHeader();
    h.protoVer = opcode >= 0x80 ? SD_SHEEP_PROTO_VER : SD_PROTO_VER;
    h.opcode = opcode;
    h.flags = flags;
    h.dataLength = dataLength;
    return h;
  }

  /** A response header echoing a request's opcode and id. */
  static responseTo(req: SdHeader, result: number, epoch: number, dataLength = 0): SdHeader {
    const h = new SdHeader();
    h.opcode = req.opcode;
    h.id = req.id;
    h.epoch = epoch;
    h.result = result;
    h.dataLength = dataLength;
    return h;
  }

  clone(): SdHeader {
    return new SdHeader(Buffer.from(this.buf));
  }

  get isWrite(): boolean {
    return (this.flags & SD_FLAG.CMD_WRITE) !== 0;
  }

  // --- common prefix ---
  get protoVer() { return this.buf[0]!; }
  set protoVer(v: number) { this.buf[0] = v; }
  get opcode() { return this.buf[1]!; }
  set opcode(v: number) { this.buf[1] = v; }
  get flags() { return this.buf.readUInt16LE(2); }
  set flags(v: number) { this.buf.writeUInt16LE(v, 2); }
  get epoch() { return this.buf.readUInt32LE(4); }
  set epoch(v: number) { this.buf.writeUInt32LE(v >>> 0, 4); }
  get id() { return this.buf.readUInt32LE(8); }
  set id(v: number) { this.buf.writeUInt32LE(v >>> 0, 8); }
  get dataLength() { return this.buf.readUInt32LE(12); }
  set dataLength(v: number) { this.buf.writeUInt32LE(v, 12); }

  // --- request: obj ---
  get objOid() { return this.buf.readBigUInt64LE(16); }
  set objOid(v: bigint) { this.buf.writeBigUInt64LE(v, 16); }
  get objCowOid() { return this.buf.readBigUInt64LE(24); }
  set objCowOid(v: bigint) { this.buf.writeBigUInt64LE(v, 24); }
  get objCopies() { return this.buf[32]!; }
  set objCopies(v: number) { this.buf[32] = v; }
  get objCopyPolicy() { return this.buf[33]!; }
  set objCopyPolicy(v: number) { this.buf[33] = v; }
  get objEcIndex() { return this.buf[34]!; }
  set objEcIndex(v: number) { this.buf[34] = v; }
  get objTgtEpoch() { return this.buf.readUInt32LE(36); }
  set objTgtEpoch(v: number) { this.buf.writeUInt32LE(v >>> 0, 36); }
  /** u32 at 40; QEMU declares a u64 whose high half (44) is ignored. */
  get objOffset() { return this.buf.readUInt32LE(40); }
  set objOffset(v: number) { this.buf.writeUInt32LE(v, 40); this.buf.writeUInt32LE(0, 44); }

  // --- request: vdi ---
  get vdiSize() { return this.buf.readBigUInt64LE(16); }
  set vdiSize(v: bigint) { this.buf.writeBigUInt64LE(v, 16); }
  get vdiBaseVid() { return this.buf.readUInt32LE(24); }
  set vdiBaseVid(v: number) { this.buf.writeUInt32LE(v, 24); }
  get vdiCopies() { return this.buf[28]!; }
  set vdiCopies(v: number) { this.buf[28] = v; }
  get vdiCopyPolicy() { return this.buf[29]!; }
  set vdiCopyPolicy(v: number) { this.buf[29] = v; }
  get vdiStorePolicy() { return this.buf[30]!; }
  set vdiStorePolicy(v: number) { this.buf[30] = v; }
  get vdiBlockSizeShift() { return this.buf[31]!; }
  set vdiBlockSizeShift(v: number) { this.buf[31] = v; }
  get vdiSnapid() { return this.buf.readUInt32LE(32); }
  set vdiSnapid(v: number) { this.buf.writeUInt32LE(v, 32); }
  get vdiType() { return this.buf.readUInt32LE(36); }
  set vdiType(v: number) { this.buf.writeUInt32LE(v, 36); }

  // --- request: cluster ---
  get clusterCtime() { return this.buf.readBigUInt64LE(24); }
  set clusterCtime(v: bigint) { this.buf.writeBigUInt64LE(v, 24); }
  get clusterCopies() { return this.buf[32]!; }
  set clusterCopies(v: number) { this.buf[32] = v; }
  get clusterCopyPolicy() { return this.buf[33]!; }
  set clusterCopyPolicy(v: number) { this.buf[33] = v; }
  get clusterFlags() { return this.buf.readUInt16LE(34); }
  set clusterFlags(v: number) { this.buf.writeUInt16LE(v, 34); }
  get clusterNodesNr() { return this.buf.readUInt32LE(40); }
  set clusterNodesNr(v: number) { this.buf.writeUInt32LE(v, 40); }
  get clusterBlockSizeShift() { return this.buf[44]!; }
  set clusterBlockSizeShift(v: number) { this.buf[44] = v; }

  // --- request: vdi_state (NOTIFY_VDI_ADD, ALTER_VDI_COPY) ---
  get stateOldVid() { return this.buf.readUInt32LE(16); }
  set stateOldVid(v: number) { this.buf.writeUInt32LE(v, 16); }
  get stateNewVid() { return this.buf.readUInt32LE(20); }
  set stateNewVid(v: number) { this.buf.writeUInt32LE(v, 20); }
  get stateCopies() { return this.buf[24]!; }
  set stateCopies(v: number) { this.buf[24] = v; }
  get stateSetBitmap() { return this.buf[25]!; }
  set stateSetBitmap(v: number) { this.buf[25] = v; }
  get stateCopyPolicy() { return this.buf[26]!; }
  set stateCopyPolicy(v: number) { this.buf[26] = v; }
  get stateBlockSizeShift() { return this.buf[27]!; }
  set stateBlockSizeShift(v: number) { this.buf[27] = v; }

  // --- request: ref (DECREF_OBJ / DECREF_PEER) ---
  get refOid() { return this.buf.readBigUInt64LE(16); }
  set refOid(v: bigint) { this.buf.writeBigUInt64LE(v, 16); }
  get refGeneration() { return this.buf.readUInt32LE(24); }
  set refGeneration(v: number) { this.buf.writeUInt32LE(v >>> 0, 24); }
  get refCount() { return this.buf.readUInt32LE(28); }
  set refCount(v: number) { this.buf.writeUInt32LE(v >>> 0, 28); }
  /**
   * Beyond the original (its sd_req leaves these bytes unused): a DECREF's
   * identity, the same on every retry (0: none), so that a holder applies it
   * at most once.
   */
  get refToken() { return this.buf.readBigUInt64LE(32); }
  set refToken(v: bigint) { this.buf.writeBigUInt64LE(v, 32); }

  // --- request: forw (REPAIR_REPLICA) ---
  get forwOid() { return this.buf.readBigUInt64LE(16); }
  set forwOid(v: bigint) { this.buf.writeBigUInt64LE(v, 16); }
  get forwAddr() { return this.buf.subarray(24, 40); }
  set forwAddr(v: Buffer) { assert(v.length === 16, 'forw addr is 16 bytes'); v.copy(this.buf, 24); }
  get forwPort() { return this.buf.readUInt16LE(40); }
  set forwPort(v: number) { this.buf.writeUInt16LE(v, 40); }

  // --- request: vdi_state_checkpoint / inode_coherence ---
  get ckptGet() { return this.buf.readUInt32LE(16); }
  set ckptGet(v: number) { this.buf.writeUInt32LE(v, 16); }
  get ckptTgtEpoch() { return this.buf.readUInt32LE(20); }
  set ckptTgtEpoch(v: number) { this.buf.writeUInt32LE(v, 20); }
  get ckptVid() { return this.buf.readUInt32LE(24); }
  set ckptVid(v: number) { this.buf.writeUInt32LE(v, 24); }

  // --- response: common ---
  get result() { return this.buf.readUInt32LE(16); }
  set result(v: number) { this.buf.writeUInt32LE(v, 16); }

  // --- response: obj ---
  get rspObjCopies() { return this.buf[20]!; }
  set rspObjCopies(v: number) { this.buf[20] = v; }
  get rspObjOffset() { return this.buf.readBigUInt64LE(24); }
  set rspObjOffset(v: bigint) { this.buf.writeBigUInt64LE(v, 24); }

  // --- response: vdi ---
  get rspVdiId() { return this.buf.readUInt32LE(24); }
  set rspVdiId(v: number) { this.buf.writeUInt32LE(v, 24); }
  get rspAttrId() { return this.buf.readUInt32LE(28); }
  set rspAttrId(v: number) { this.buf.writeUInt32LE(v >>> 0, 28); }
  get rspVdiCopies() { return this.buf[32]!; }
  set rspVdiCopies(v: number) { this.buf[32] = v; }
  get rspVdiBlockSizeShift() { return this.buf[33]!; }
  set rspVdiBlockSizeShift(v: number) { this.buf[33] = v; }

  // --- response: node ---
  get rspNrNodes() { return this.buf.readUInt32LE(20); }
  set rspNrNodes(v: number) { this.buf.writeUInt32LE(v, 20); }
  get rspStoreSize() { return this.buf.readBigUInt64LE(32); }
  set rspStoreSize(v: bigint) { this.buf.writeBigUInt64LE(v, 32); }
  get rspStoreFree() { return this.buf.readBigUInt64LE(40); }
  set rspStoreFree(v: bigint) { this.buf.writeBigUInt64LE(v, 40); }

  // --- response: hash ---
  get rspDigest() { return this.buf.subarray(24, 44); }
  set rspDigest(v: Buffer) { assert(v.length === 20, 'sha1 digest is 20 bytes'); v.copy(this.buf, 24); }

  // --- response: cluster_default ---
  get rspDefaultCopies() { return this.buf[20]!; }
  set rspDefaultCopies(v: number) { this.buf[20] = v; }
  get rspDefaultCopyPolicy() { return this.buf[21]!; }
  set rspDefaultCopyPolicy(v: number) { this.buf[21] = v; }
  get rspDefaultBlockSizeShift() { return this.buf[22]!; }
  set rspDefaultBlockSizeShift(v: number) { this.buf[22] = v; }
}
