/**
 * Which sheep hold writes of a VDI in their object cache that no FLUSH_VDI has
 * written back yet (issue 13). A write with the cache flag is acknowledged by
 * the sheep that answered it, from its cache: a flush sent to another sheep
 * (after the link failed over) writes none of it back, and a sheep whose
 * connection broke may have died with it. So fsync flushes on each sheep that
 * holds such writes, and answers EIO once for a VDI whose writes sat on a sheep
 * whose connection broke before they were flushed.
 */
/** A sheep's address (the link's HostPort). */
interface HostPort { host: string; port: number }

const key = (t: HostPort): string => `${t.host}:${t.port}`;

export class CachedWrites {
  /** sheep -> VDIs with unflushed cached writes there */
  private readonly on = new Map<string, { target: HostPort; vids: Set<number> }>();
  /** VDIs whose unflushed cached writes were on a sheep that went away */
  private readonly lost = new Set<number>();
  /** sheep -> connections to it that broke so far */
  private readonly breaks = new Map<string, number>();

  /** A write of `vid` with the cache flag succeeded on `target`. */
  wrote(target: HostPort, vid: number): void {
    let e = this.on.get(key(target));
    if (!e) this.on.set(key(target), e = { target, vids: new Set() });
    e.vids.add(vid);
  }

  /** A connection to `target` failed or closed: what it cached unflushed may be gone. */
  broke(target: HostPort): void {
    this.breaks.set(key(target), this.breakCount(target) + 1);
    const e = this.on.get(key(target));
    if (!e) return;
    for (const vid of e.vids) this.lost.add(vid);
    this.on.delete(key(target));
  }

  /**
   * Start a flush of `vid`: the sheep to flush on, and whether some of its
   * cached writes may be lost (reported once). The VDI counts as flushed from
   * here; give back the sheep whose flush failed with `unflushed`.
   */
  take(vid: number): { targets: HostPort[]; lost: boolean } {
    const lost = this.lost.delete(vid);
    const targets: HostPort[] = [];
    for (const e of this.on.values()) {
      if (e.vids.delete(vid)) targets.push(e.target);
    }
    return { targets, lost };
  }

  /**
   * Connections to `target` that broke so far: a flush answered by a sheep
   * whose count moved since the flush began may come from a restarted sheep
   * that lost what it had cached.
   */
  breakCount(target: HostPort): number {
    return this.breaks.get(key(target)) ?? 0;
  }

  /** A flush of `vid` on `target` failed: its writes there are still unflushed. */
  unflushed(target: HostPort, vid: number): void {
    this.wrote(target, vid);
  }
}
