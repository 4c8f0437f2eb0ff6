import { SD_OP } from '../shared/proto/opcodes.js';
import { encodeStat } from '../shared/proto/stat.js';

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
    const n = (v: number): bigint => BigInt(Math.max(0, v));
    return encodeStat({
      gwayActive: n(this.gwActive), peerActive: n(this.peerActive), gwayTotal: n(this.gwTotal), peerTotal: n(this.peerTotal),
      gwayRx: n(this.gwBytesIn), gwayTx: n(this.gwBytesOut), peerRx: n(this.peerBytesIn), peerTx: n(this.peerBytesOut),
      gwayRemove: n(this.gwRemoves), gwayRead: n(this.gwReads), gwayWrite: n(this.gwWrites), gwayFlush: n(this.gwFlushes),
      peerRemove: n(this.peerRemoves), peerRead: n(this.peerReads), peerWrite: n(this.peerWrites),
    });
  }
}
