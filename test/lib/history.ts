/**
 * The history checker of the fault tests (issue 13). Writers stamp every 4 KiB
 * block they write with (block, version) and a checksum over the whole block,
 * and log each attempt (try), and its outcome (ack or error). After faults and
 * recovery, every block read (through every sheep) must hold its last
 * acknowledged version or a later attempted one: never older, never torn (a
 * mix of sectors of two versions fails the checksum), never a version that was
 * never written, never unreadable.
 *
 * A block has one writer at a time (begin() refuses a second attempt while one
 * is open), so "the last acknowledged version" is well defined. An attempt
 * whose outcome is unknown (the writer was killed, timed out) counts as an
 * error: it may or may not have landed, and no later attempt on that block is
 * allowed (poison()), since it could still land on top of a newer one.
 */
import { crc32 } from 'node:zlib';

export const BLOCK = 4096;
const MAGIC = Buffer.from('SDHIST01');
/** bytes 0..7 magic, 8..15 block, 16..23 version, 24..27 crc32 of the rest of the block */
const CRC_AT = 24;
const PAYLOAD_AT = 28;

export type Decoded =
  | { kind: 'zero' }
  | { kind: 'stamp'; block: number; version: number }
  | { kind: 'torn' };

/** The bytes of `version` of `block`: a header and a payload that differs per (block, version) and per sector. */
export function stamp(block: number, version: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  MAGIC.copy(b, 0);
  b.writeBigUInt64LE(BigInt(block), 8);
  b.writeBigUInt64LE(BigInt(version), 16);
  // xorshift32 seeded from (block, version): sectors of two versions never agree
  let x = (Math.imul(block + 1, 0x9e3779b1) ^ Math.imul(version + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let at = PAYLOAD_AT; at + 4 <= BLOCK; at += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, at);
  }
  b.writeUInt32LE(crc32(b.subarray(PAYLOAD_AT), crc32(b.subarray(0, CRC_AT))), CRC_AT);
  return b;
}

export function decode(b: Buffer): Decoded {
  if (b.length !== BLOCK) return { kind: 'torn' };
  if (b.every((x) => x === 0)) return { kind: 'zero' };
  if (!b.subarray(0, 8).equals(MAGIC)) return { kind: 'torn' };
  if (b.readUInt32LE(CRC_AT) !== crc32(b.subarray(PAYLOAD_AT), crc32(b.subarray(0, CRC_AT)))) return { kind: 'torn' };
  return { kind: 'stamp', block: Number(b.readBigUInt64LE(8)), version: Number(b.readBigUInt64LE(16)) };
}

export type Outcome = 'try' | 'ack' | 'error';

export interface Violation {
  block: number;
  where: string;
  /** lost: older than the last ack (or zero after an ack); torn; alien: never written here; unreadable */
  kind: 'lost' | 'torn' | 'alien' | 'unreadable';
  detail: string;
}

interface BlockState {
  /** versions tried, in order (version n is the n-th attempt) */
  tried: number;
  acked: number;
  open: boolean;
  poisoned: boolean;
}

export class History {
  private readonly state: BlockState[];
  readonly log: string[] = [];
  tries = 0;
  acks = 0;
  errors = 0;
  /** blocks read torn that a failed write may have torn (with tornByFailedWrites) */
  readonly tornByFailure = new Set<number>();
  /**
   * Accept a torn block whose latest attempt failed. Only for a schedule that
   * loses more erasure-code strip holders than the code tolerates mid-write:
   * a failed stripe write that reached some holders and not others leaves
   * strips of two versions, which no read can tell apart (the erasure-code
   * write hole, as in the original). Such blocks are counted, not hidden.
   */
  tornByFailedWrites = false;

  constructor(readonly blocks: number) {
    this.state = Array.from({ length: blocks }, () => ({ tried: 0, acked: 0, open: false, poisoned: false }));
  }

  private at(block: number): BlockState {
    const s = this.state[block];
    if (!s) throw new Error(`block ${block} outside the history (${this.blocks} blocks)`);
    return s;
  }

  /** May a new attempt start on this block? */
  writable(block: number): boolean {
    const s = this.at(block);
    return !s.open && !s.poisoned;
  }

  /** Start an attempt: its version and its bytes. */
  begin(block: number): { version: number; data: Buffer } {
    const s = this.at(block);
    if (s.open || s.poisoned) throw new Error(`block ${block} is not writable now (one writer per block)`);
    s.open = true;
    const version = ++s.tried;
    this.tries++;
    this.log.push(`try ${block} ${version}`);
    return { version, data: stamp(block, version) };
  }

  ack(block: number, version: number): void {
    const s = this.at(block);
    if (!s.open || version !== s.tried) throw new Error(`ack of ${block}:${version} that is not the open attempt`);
    s.open = false;
    s.acked = version;
    this.acks++;
    this.log.push(`ack ${block} ${version}`);
  }

  /** The attempt failed, or its outcome is unknown: it may still have landed. */
  fail(block: number, version: number): void {
    const s = this.at(block);
    if (!s.open || version !== s.tried) throw new Error(`error of ${block}:${version} that is not the open attempt`);
    s.open = false;
    this.errors++;
    this.log.push(`error ${block} ${version}`);
  }

  /** No more attempts on this block (an attempt whose outcome is unknown might still land). */
  poison(block: number): void {
    this.at(block).poisoned = true;
  }

  /** Last acknowledged version of a block (0: none). */
  acked(block: number): number {
    return this.at(block).acked;
  }

  /** Check what a read of `block` returned (undefined: the read failed). */
  check(block: number, read: Buffer | undefined, where: string): Violation | undefined {
    const s = this.at(block);
    if (read === undefined) return { block, where, kind: 'unreadable', detail: `last ack ${s.acked}` };
    const d = decode(read);
    if (d.kind === 'torn') {
      // tried beyond the last ack and no attempt open: the latest attempt failed
      if (this.tornByFailedWrites && s.tried > s.acked && !s.open) {
        this.tornByFailure.add(block);
        return undefined;
      }
      return { block, where, kind: 'torn', detail: `last ack ${s.acked}, tried up to ${s.tried}` };
    }
    if (d.kind === 'zero') {
      return s.acked === 0 ? undefined : { block, where, kind: 'lost', detail: `zeros, last ack ${s.acked}` };
    }
    if (d.block !== block || d.version > s.tried) {
      return { block, where, kind: 'alien', detail: `holds ${d.block}:${d.version}, tried up to ${s.tried}` };
    }
    if (d.version < s.acked) return { block, where, kind: 'lost', detail: `holds version ${d.version}, last ack ${s.acked}` };
    return undefined;
  }

  /** Check a read of consecutive blocks from `first` on. */
  checkRange(first: number, read: Buffer | undefined, where: string): Violation[] {
    const out: Violation[] = [];
    const n = read ? Math.floor(read.length / BLOCK) : 0;
    for (let i = 0; i < (read ? n : this.blocks - first); i++) {
      const v = this.check(first + i, read?.subarray(i * BLOCK, (i + 1) * BLOCK), where);
      if (v) out.push(v);
    }
    return out;
  }

  summary(): string {
    const torn = this.tornByFailure.size ? `, ${this.tornByFailure.size} blocks torn by their failed write` : '';
    return `${this.tries} writes tried, ${this.acks} acknowledged, ${this.errors} failed${torn}`;
  }
}

/** A small seeded random source (mulberry32), so that a schedule replays from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a schedule: SHEEPDOG_TEST_SEED to replay one, else a fresh one; printed either way. */
export function scheduleSeed(name: string, fixed?: number): number {
  const env = process.env.SHEEPDOG_TEST_SEED;
  const seed = env ? Number(env) : fixed ?? Math.floor(Math.random() * 2 ** 31);
  console.log(`${name}: seed ${seed} (replay with SHEEPDOG_TEST_SEED=${seed})`);
  return seed;
}
