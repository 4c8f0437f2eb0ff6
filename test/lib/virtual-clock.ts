/**
 * A virtual clock for in-process cluster tests: timers fire in time order
 * (ties in the order they were set) only when the test advances the clock,
 * and only after the work they would interrupt has run (a number of event
 * loop turns). With no real I/O in play, a run replays exactly.
 */
import type { EngineTimers } from '../../sheep/cluster/engine.js';

/** Event-loop turns given to pending work before the next timer fires. */
const SETTLE_TURNS = 30;

interface Timer {
  id: number;
  at: number;
  fn: () => void;
  /** repeat interval, for setInterval */
  every?: number;
}

export class VirtualClock implements EngineTimers {
  now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  setTimeout(fn: () => void, ms: number): unknown {
    const t = { id: this.nextId++, at: this.now + Math.max(0, ms), fn };
    this.timers.set(t.id, t);
    return t.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  setInterval(fn: () => void, ms: number): unknown {
    const t = { id: this.nextId++, at: this.now + Math.max(1, ms), fn, every: Math.max(1, ms) };
    this.timers.set(t.id, t);
    return t.id;
  }

  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Let pending promise chains and immediates run. */
  async settle(): Promise<void> {
    for (let i = 0; i < SETTLE_TURNS; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Fire the earliest timer (after settling); false when none is set. */
  async tick(): Promise<boolean> {
    await this.settle();
    let next: Timer | undefined;
    for (const t of this.timers.values()) if (!next || t.at < next.at || (t.at === next.at && t.id < next.id)) next = t;
    if (!next) return false;
    this.now = Math.max(this.now, next.at);
    if (next.every !== undefined) {
      // an interval keeps its handle; it is due again one period later
      this.timers.delete(next.id);
      this.timers.set(next.id, { ...next, at: next.at + next.every });
    } else {
      this.timers.delete(next.id);
    }
    next.fn();
    return true;
  }

  /**
   * Advance until `done()` holds, firing timers in order; throws when it does
   * not within `limitMs` of virtual time.
   */
  async runUntil(what: string, done: () => boolean, limitMs = 60_000): Promise<void> {
    const until = this.now + limitMs;
    for (;;) {
      await this.settle();
      if (done()) return;
      if (this.now > until) throw new Error(`${what}: not reached in ${limitMs} ms of virtual time`);
      if (!(await this.tick())) throw new Error(`${what}: not reached, and no timer is left`);
    }
  }

  /** Advance virtual time by ms, firing the timers due meanwhile. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      await this.settle();
      let due = false;
      for (const t of this.timers.values()) if (t.at <= until) due = true;
      if (!due) break;
      await this.tick();
    }
    this.now = until;
  }
}
