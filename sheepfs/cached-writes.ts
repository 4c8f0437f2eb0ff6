/**
 * Which sheep hold writes of a VDI in their object cache that no completed
 * FLUSH_VDI has written back yet (issue 13). A write with the cache flag is
 * acknowledged by the sheep that answered it, from its cache: a flush sent to
 * another sheep (after the link failed over) writes none of it back, and a
 * sheep whose connection broke may have died with it. So fsync flushes on each
 * sheep that holds such writes (a write stays listed until a flush that began
 * after it succeeded there, so concurrent fsyncs all wait on it), and answers
 * EIO for a VDI whose writes sat on a sheep whose connection broke.
 */

/** A sheep's address (the link's HostPort). */
interface HostPort { host: string; port: number }

const key = (t: HostPort): string => `${t.host}:${t.port}`;

/** A sheep to flush a VDI on, and the last cached write there that the flush covers. */
export interface FlushTarget {
  target: HostPort;
  seq: number;
}

export class CachedWrites {
  /** sheep -> VDI -> sequence number of its last cached write there not flushed yet */
  private readonly on = new Map<string, { target: HostPort; vids: Map<number, number> }>();
  /** VDI -> times its unflushed cached writes were on a sheep that went away */
  private readonly losses = new Map<number, number>();
  /** sheep -> connections to it that broke so far */
  private readonly breaks = new Map<string, number>();
  private seq = 0;

  /** A write of `vid` with the cache flag succeeded on `target`. */
  wrote(target: HostPort, vid: number): void {
    let e = this.on.get(key(target));
    if (!e) this.on.set(key(target), e = { target, vids: new Map() });
    e.vids.set(vid, ++this.seq);
  }

  /** A connection to `target` failed or closed: what it cached unflushed may be gone. */
  broke(target: HostPort): void {
    this.breaks.set(key(target), this.breakCount(target) + 1);
    const e = this.on.get(key(target));
    if (!e) return;
    for (const vid of e.vids.keys()) this.losses.set(vid, this.lossCount(vid) + 1);
    this.on.delete(key(target));
  }

  /** Times cached writes of `vid` may have been lost so far. */
  lossCount(vid: number): number {
    return this.losses.get(vid) ?? 0;
  }

  /** Start a flush of `vid`: the sheep to flush on. */
  begin(vid: number): FlushTarget[] {
    const targets: FlushTarget[] = [];
    for (const e of this.on.values()) {
      const seq = e.vids.get(vid);
      if (seq !== undefined) targets.push({ target: e.target, seq });
    }
    return targets;
  }

  /** A flush begun at `t` succeeded: the writes it covers there are written back. */
  flushed(t: FlushTarget, vid: number): void {
    const e = this.on.get(key(t.target));
    if (e && e.vids.get(vid) === t.seq) e.vids.delete(vid);
  }

  /**
   * Connections to `target` that broke so far: a flush answered by a sheep
   * whose count moved since the flush began may come from a restarted sheep
   * that lost what it had cached.
   */
  breakCount(target: HostPort): number {
    return this.breaks.get(key(target)) ?? 0;
  }
}
