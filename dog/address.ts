/** The daemon address and port given with -a/-p or SHEEPDOG_DOG_ADDR/PORT. */
import { isIP } from 'node:net';
import { addrToString, encodeAddr } from '../shared/node.js';

/** -p / SHEEPDOG_DOG_PORT: all digits, 1..65535; undefined when invalid. */
export function parsePort(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * -a / SHEEPDOG_DOG_ADDR: an IP literal, or a host name resolved to its first
 * address (getaddrinfo). Returns the numeric form messages print, or undefined.
 */
export async function resolveAddress(s: string): Promise<string | undefined> {
  if (isIP(s)) return addrToString(encodeAddr(s));
  if (s === '') return undefined;
  try {
    const { lookup } = await import('node:dns/promises');
    const r = await lookup(s);
    return addrToString(encodeAddr(r.address));
  } catch {
    return undefined;
  }
}
