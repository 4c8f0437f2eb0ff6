/**
 * The storage an ordered-log cluster driver runs on: a shared sequence of
 * immutable events, one-time resolutions of join events, and a registry of
 * live processes. The local driver keeps these in files; the ZooKeeper driver
 * in znodes. Contract:
 * - append() gives every event a distinct sequence number; numbers have no gaps
 *   (except below a trim point) and every reader sees the same bytes at a number.
 * - resolve() is first-writer-wins: every caller gets the winning content.
 * - a registration disappears (isAlive false) when its process dies.
 * - trim() removes only what every member has read (the engine's duty: it
 *   trims below the lowest position readSeqs() reports).
 */
export interface LogBackend {
  register(id: string): Promise<void>;
  /** Record in our registration the sequence number of our join event. */
  setJoinSeq(id: string, seq: number): Promise<void>;
  /** Live registrations with their join sequence number (undefined while unknown). */
  alive(): Promise<Map<string, number | undefined>>;
  /** Record in our registration that we have read every event below seq. */
  setReadSeq(id: string, seq: number): Promise<void>;
  /**
   * How far each registration (of those in `only`, when given) has read: the
   * position it recorded, else its join event (it never reads below that).
   * Registrations whose join number is not known yet are absent. The master
   * trims no further than these; a block is granted once every other member
   * has recorded a position past it.
   */
  readSeqs(only?: readonly string[]): Promise<Map<string, number>>;
  unregister(id: string): Promise<void>;
  append(data: Buffer): Promise<number>;
  read(seq: number): Promise<Buffer | undefined>;
  /** Highest sequence number in use (0 if none). */
  maxSeq(): Promise<number>;
  resolve(seq: number, data: Buffer): Promise<Buffer>;
  readResolution(seq: number): Promise<Buffer | undefined>;
  /** Forget events below seq. */
  trim(belowSeq: number): Promise<void>;
  /** Call fn whenever something may have changed (the engine polls as well). */
  onChange(fn: () => void): void;
  close(): Promise<void>;
}
