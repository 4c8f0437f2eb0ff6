/**
 * Requests whose reply may not fit the buffer offered: the server answers
 * BUFFER_SMALL, and the client asks again with a larger one. The one loop of
 * the programs that do this (dog, sheep, sheepfs).
 */
import { assert } from './errors.js';
import type { Reply } from './client.js';
import { SD_RES } from './proto/results.js';

export interface GrowLimits {
  /** the first size asked for (bytes, or whatever unit `send` takes) */
  first: number;
  /** no size beyond this is asked for: the reply to it is returned as it is */
  max: number;
  /** growth per round (default 2) */
  factor?: number;
}

/**
 * Send with `first`, and again with the size times `factor` while the reply
 * is BUFFER_SMALL and the size is below `max`. Returns the last reply (which
 * is BUFFER_SMALL when even `max` was too small: the caller reports it as any
 * other failure) and the size it was sent with. A send that gives no reply
 * (dog: the failure is said already) ends the loop with none.
 */
export async function requestGrowing<R extends Reply>(
  send: (size: number) => Promise<R | undefined>, limits: GrowLimits,
): Promise<{ reply: R | undefined; size: number }> {
  const factor = limits.factor ?? 2;
  assert(factor > 1 && limits.first >= 0, 'a growing request grows');
  for (let size = limits.first; ; size = Math.max(size * factor, size + 1)) {
    const reply = await send(size);
    if (!reply || reply.hdr.result !== SD_RES.BUFFER_SMALL || size >= limits.max) return { reply, size };
  }
}
