import { SD_OP } from '../shared/proto/opcodes.js';

/** Told each request's op class and duration (--metrics); nothing is timed without one. */
export type LatencyObserver = (kind: string, seconds: number) => void;

/** Request counters reported by STAT (sd_stat: fifteen u64 in this order). */
export class Stats {
  observer: LatencyObserver | undefined;
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

  /** Count a request in; returns its start time when an observer times requests (else 0). */
  begin(kind: string, opcode: number, bytesIn: number): number {
    this.count(kind, opcode, bytesIn);
    return this.observer ? performance.now() : 0;
  }

  private count(kind: string, opcode: number, bytesIn: number): void {
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

  end(kind: string, bytesOut: number, started = 0): void {
    if (this.observer && started > 0) this.observer(kind, (performance.now() - started) / 1000);
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
