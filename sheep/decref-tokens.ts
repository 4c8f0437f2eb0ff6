/**
 * The DECREFs this sheep applied lately, by token (issue 13). A DECREF is not
 * idempotent: when a holder applied one but its answer was lost, the gateway
 * sends it again with the same token, and the holder answers success without
 * applying it twice. A token is recorded durably (the sheep's metadata, synced)
 * before the ledger changes, so a retry that reaches a restarted holder is known
 * too; a crash between the two leaves the count high (space kept, never an
 * object in use freed). Tokens are kept longer than any gateway retries one
 * request, then pruned.
 */
import { GATEWAY_REQUEST_MAX_MS } from '../shared/timeouts.js';

/** How long a token is remembered: past every retry of its request. */
export const DECREF_TOKEN_KEEP_MS = 2 * GATEWAY_REQUEST_MAX_MS;

/** Where the tokens are kept (MetaStore). */
export interface DecrefTokenStore {
  putDecrefToken(token: bigint, at: number): Promise<void>;
  hasDecrefToken(token: bigint): Promise<boolean>;
  delDecrefToken(token: bigint): Promise<void>;
  pruneDecrefTokens(before: number): Promise<void>;
}

export class DecrefTokens {
  private lastPrune = 0;

  constructor(private readonly store: DecrefTokenStore, private readonly now: () => number = Date.now) {}

  /**
   * Run `apply` unless the DECREF of this token was applied here already.
   * The caller runs one at a time (the ledger chain).
   */
  async once(token: bigint, apply: () => Promise<void>): Promise<void> {
    if (token === 0n) return apply(); // an older gateway: no token
    if (await this.store.hasDecrefToken(token)) return;
    const now = this.now();
    if (now - this.lastPrune > DECREF_TOKEN_KEEP_MS / 2) {
      this.lastPrune = now;
      await this.store.pruneDecrefTokens(now - DECREF_TOKEN_KEEP_MS);
    }
    await this.store.putDecrefToken(token, now);
    try {
      await apply();
    } catch (e) {
      // not applied: a retry may apply it (if forgetting fails, the count stays high)
      await this.store.delDecrefToken(token).catch(() => {});
      throw e;
    }
  }
}
