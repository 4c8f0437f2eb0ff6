import { assert } from './errors.js';

/**
 * Large buffers of one size, reused instead of allocated afresh. Every fresh
 * 4 MiB buffer is external memory to V8, which runs a full mark-compact about
 * every 64 MB of it: on 3 local sheep moving 1 GiB that was a third of their
 * CPU (perf: the GC's marking threads next to the event loop).
 *
 * A buffer may be given back only by its one owner, once nothing can read or
 * write it any more (see Server: a request payload after its handler settled,
 * and only for ops whose handlers keep no reference). Giving one back twice,
 * or one the pool did not lend, is a bug and throws.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  /** weak: a buffer whose owner went away without giving it back (a connection lost mid-frame) is simply collected */
  private readonly lent = new WeakSet<Buffer>();

  /** `maxFree`: buffers kept for reuse at most; more given back are dropped. */
  constructor(readonly size: number, readonly maxFree: number) {}

  take(): Buffer {
    const b = this.free.pop() ?? Buffer.allocUnsafe(this.size);
    this.lent.add(b);
    return b;
  }

  give(b: Buffer): void {
    assert(this.lent.delete(b), 'a pooled buffer given back twice, or one the pool did not lend');
    if (this.free.length < this.maxFree) this.free.push(b);
  }

  /** Did this pool lend `b` (and not have it back yet)? */
  lends(b: Buffer): boolean {
    return this.lent.has(b);
  }

  /** The owner keeps `b` for good (it may still be referenced): never lend it again. */
  forget(b: Buffer): void {
    assert(this.lent.delete(b), 'forgetting a buffer the pool did not lend');
  }

  /** Buffers waiting for reuse (for tests). */
  get idle(): number {
    return this.free.length;
  }
}
