import type { LogBackend } from './log-backend.js';

/** Most event-loop turns one backend call waits before it acts (the message-order knob). */
const MAX_YIELD_TURNS = 3;

export interface MemoryLogOptions {
  /**
   * A random source in [0, 1): each backend call waits 0..3 turns of the
   * event loop, and change notices reach the engines in a shuffled order.
   * A seeded source makes one interleaving of the engines replay exactly;
   * without one, every call acts at once and notices go in order.
   */
  random?: () => number;
}

/**
 * The cluster log of the in-process engine: events, join resolutions and the
 * registry in memory, shared by every engine of one process that is given a
 * backend of it. Meant for tests that run several members' Group and engine
 * in one process; it keeps the LogBackend contract of the local and ZooKeeper
 * backends, and a registration disappears when the test says its process
 * died or its session expired (expire).
 */
export class MemoryLog {
  private readonly events = new Map<number, Buffer>();
  private readonly resolutions = new Map<number, Buffer>();
  private readonly registry = new Map<string, number | undefined>();
  private readonly positions = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private lastSeq = 0;

  constructor(private readonly o: MemoryLogOptions = {}) {}

  backend(): MemoryBackend {
    return new MemoryBackend(this);
  }

  /** The process behind a registration died (or its session expired): it is no longer alive. */
  expire(id: string): void {
    this.registry.delete(id);
    this.positions.delete(id);
    this.changed();
  }

  /** Wait the turns the random source picks (none without one). */
  async step(): Promise<void> {
    const turns = this.o.random ? Math.floor(this.o.random() * (MAX_YIELD_TURNS + 1)) : 0;
    for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Tell the engines something changed, in the order the random source picks. */
  changed(): void {
    const fns = [...this.listeners];
    const random = this.o.random;
    if (random) {
      for (let i = fns.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [fns[i], fns[j]] = [fns[j]!, fns[i]!];
      }
    }
    for (const fn of fns) queueMicrotask(fn);
  }

  listen(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  register(id: string): void {
    this.registry.set(id, undefined);
  }

  setJoinSeq(id: string, seq: number): void {
    if (this.registry.has(id)) this.registry.set(id, seq);
  }

  alive(): Map<string, number | undefined> {
    return new Map(this.registry);
  }

  unregister(id: string): void {
    this.registry.delete(id);
    this.positions.delete(id);
  }

  setReadSeq(id: string, seq: number): void {
    if (this.registry.has(id)) this.positions.set(id, seq);
  }

  readSeqs(only?: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, joinSeq] of this.registry) {
      if (only && !only.includes(id)) continue;
      const at = this.positions.get(id) ?? joinSeq;
      if (at !== undefined) out.set(id, at);
    }
    return out;
  }

  append(data: Buffer): number {
    const seq = ++this.lastSeq;
    this.events.set(seq, Buffer.from(data));
    this.changed();
    return seq;
  }

  read(seq: number): Buffer | undefined {
    return this.events.get(seq);
  }

  maxSeq(): number {
    return this.lastSeq;
  }

  resolve(seq: number, data: Buffer): Buffer {
    const won = this.resolutions.get(seq);
    if (won) return won;
    this.resolutions.set(seq, Buffer.from(data));
    this.changed();
    return data;
  }

  readResolution(seq: number): Buffer | undefined {
    return this.resolutions.get(seq);
  }

  trim(belowSeq: number): void {
    for (const seq of this.events.keys()) if (seq < belowSeq) this.events.delete(seq);
    for (const seq of this.resolutions.keys()) if (seq < belowSeq) this.resolutions.delete(seq);
  }
}

/** One engine's handle on a MemoryLog. */
export class MemoryBackend implements LogBackend {
  /** the registrations made through this handle (a test expires them by id) */
  readonly ids: string[] = [];
  private unlisten: (() => void)[] = [];

  constructor(private readonly mem: MemoryLog) {}

  async register(id: string): Promise<void> {
    await this.mem.step();
    this.ids.push(id);
    this.mem.register(id);
  }

  async setJoinSeq(id: string, seq: number): Promise<void> {
    await this.mem.step();
    this.mem.setJoinSeq(id, seq);
  }

  async alive(): Promise<Map<string, number | undefined>> {
    await this.mem.step();
    return this.mem.alive();
  }

  async unregister(id: string): Promise<void> {
    await this.mem.step();
    this.mem.unregister(id);
  }

  async setReadSeq(id: string, seq: number): Promise<void> {
    await this.mem.step();
    this.mem.setReadSeq(id, seq);
  }

  async readSeqs(only?: readonly string[]): Promise<Map<string, number>> {
    await this.mem.step();
    return this.mem.readSeqs(only);
  }

  async append(data: Buffer): Promise<number> {
    await this.mem.step();
    return this.mem.append(data);
  }

  async read(seq: number): Promise<Buffer | undefined> {
    await this.mem.step();
    return this.mem.read(seq);
  }

  async maxSeq(): Promise<number> {
    await this.mem.step();
    return this.mem.maxSeq();
  }

  async resolve(seq: number, data: Buffer): Promise<Buffer> {
    await this.mem.step();
    return this.mem.resolve(seq, data);
  }

  async readResolution(seq: number): Promise<Buffer | undefined> {
    await this.mem.step();
    return this.mem.readResolution(seq);
  }

  async trim(belowSeq: number): Promise<void> {
    await this.mem.step();
    this.mem.trim(belowSeq);
  }

  onChange(fn: () => void): void {
    this.unlisten.push(this.mem.listen(fn));
  }

  async close(): Promise<void> {
    for (const off of this.unlisten.splice(0)) off();
  }
}
