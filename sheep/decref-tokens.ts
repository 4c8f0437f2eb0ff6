/**
 * The DECREFs this sheep applied lately, by token (issue 13). A DECREF is not
 * idempotent: when a holder applied one but its answer was lost, the gateway
 * sends it again with the same token, and the holder answers success without
 * applying it twice. Tokens are kept longer than any gateway retries one
 * request (GATEWAY_REQUEST_MAX_MS), in memory: a restarted holder knows none,
 * and decides by the epoch of the first attempt instead (see mayHaveApplied).
 */
import { GATEWAY_REQUEST_MAX_MS } from '../shared/timeouts.js';

/** How long a token is remembered: past every retry of its request. */
export const DECREF_TOKEN_KEEP_MS = 2 * GATEWAY_REQUEST_MAX_MS;
/** Most tokens remembered; past it new DECREFs are refused (a count left too high only keeps space). */
export const DECREF_TOKENS_MAX = 100_000;

export class DecrefTokens {
  /** token -> when it was applied (insertion order is time order) */
  private readonly applied = new Map<bigint, number>();

  constructor(private readonly now: () => number = Date.now) {}

  has(token: bigint): boolean {
    this.prune();
    return this.applied.has(token);
  }

  /** Is there room for one more token? */
  full(): boolean {
    this.prune();
    return this.applied.size >= DECREF_TOKENS_MAX;
  }

  record(token: bigint): void {
    this.applied.set(token, this.now());
  }

  private prune(): void {
    const before = this.now() - DECREF_TOKEN_KEEP_MS;
    for (const [token, at] of this.applied) {
      if (at >= before) break;
      this.applied.delete(token);
    }
  }
}

/**
 * Could an earlier run of this sheep have applied a DECREF first sent at
 * `firstEpoch`? Yes when that epoch is not later than the one this run joined
 * at: the first attempt may have reached the previous run, whose tokens are gone.
 */
export function mayHaveApplied(firstEpoch: number, joinedEpoch: number): boolean {
  return ((firstEpoch - joinedEpoch) | 0) <= 0;
}
