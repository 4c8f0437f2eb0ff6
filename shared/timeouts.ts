/**
 * Timeouts that must nest across programs (issue 13): a client that gives up
 * on a write while the sheep's gateway still works on it could see the write
 * land later, on top of a newer one. So the gateway bounds the life of every
 * client request, and clients wait at least that long for a write's answer
 * before they try it elsewhere or report it failed.
 */

/** How long a gateway request keeps retrying (a fresh ring, a peer that answers) before it reports its last error. */
export const GATEWAY_RETRY_DEADLINE_MS = 30_000;
/**
 * The longest a sheep's gateway works on one client request, retries included:
 * every peer request it sends is bounded by the retry deadline, plus this
 * margin for the answer on its way back. After it, that gateway sends nothing
 * more for the request.
 */
export const GATEWAY_REQUEST_MAX_MS = GATEWAY_RETRY_DEADLINE_MS + 2_000;
