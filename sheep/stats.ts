import { SD_OP } from '../shared/proto/opcodes.js';

/** Request counters reported by STAT (sd_stat: fifteen u64 in this order). */
export class Stats {
  gwActive = 0;
  peerActive = 0;
  gwTotal = 0;
  peerTotal = 0;
  gwBytesIn = 0;
  gwBytesOut = 0;
  peerBytesIn = 0;
  peerBytesOut = 0;
  gwRemoves = 0;
  gwReads = 0;
  gwWrites = 0;
  gwFlushes = 0;
  peerRemoves = 0;
  peerReads = 0;
  peerWrites = 0;

  begin(kind: string, opcode: number, bytesIn: number): void {
    if (kind === 'gateway') {
      this.gwActive++;
      this.gwTotal++;
      this.gwBytesIn += bytesIn;
      if (opcode === SD_OP.READ_OBJ) this.gwReads++;
      else if (opcode === SD_OP.REMOVE_OBJ) this.gwRemoves++;
      else if (opcode === SD_OP.WRITE_OBJ || opcode === SD_OP.CREATE_AND_WRITE_OBJ) this.gwWrites++;
    } else if (kind === 'peer') {
      this.peerActive++;
      this.peerTotal++;
      this.peerBytesIn += bytesIn;
      if (opcode === SD_OP.READ_PEER) this.peerReads++;
      else if (opcode === SD_OP.REMOVE_PEER) this.peerRemoves++;
      else if (opcode === SD_OP.WRITE_PEER || opcode === SD_OP.CREATE_AND_WRITE_PEER) this.peerWrites++;
    }
  }

  end(kind: string, bytesOut: number): void {
    if (kind === 'gateway') {
      this.gwActive--;
      this.gwBytesOut += bytesOut;
    } else if (kind === 'peer') {
      this.peerActive--;
      this.peerBytesOut += bytesOut;
    }
  }

  encode(): Buffer {
    const vals = [
      this.gwActive, this.peerActive, this.gwTotal, this.peerTotal, this.gwBytesIn, this.gwBytesOut,
      this.peerBytesIn, this.peerBytesOut, this.gwRemoves, this.gwReads, this.gwWrites, this.gwFlushes,
      this.peerRemoves, this.peerReads, this.peerWrites,
    ];
    const b = Buffer.alloc(120);
    vals.forEach((v, i) => b.writeBigUInt64LE(BigInt(Math.max(0, v)), 8 * i));
    return b;
  }
}
