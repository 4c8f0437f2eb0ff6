import { isIPv4, isIPv6 } from 'node:net';
import { assert } from './errors.js';

/** sd_node on the wire: 80 bytes (24 garbage rb bytes, node_id, vnodes, zone, space). */
export const SD_NODE_SIZE = 80;
export const SD_MAX_NODES = 6144;

/** A cluster member as Sheepdog describes it. Identity is (addr, port). */
export interface SdNode {
  /** 16 bytes: IPv6, or 12 zero bytes + IPv4 (the IPv4-compatible form). */
  addr: Buffer;
  port: number;
  ioAddr: Buffer;
  ioPort: number;
  nrVnodes: number;
  zone: number;
  space: bigint;
}

const ZERO16 = Buffer.alloc(16);

/** Encode an address string (IPv4 or IPv6 literal) in node_id form. */
export function encodeAddr(ip: string): Buffer {
  const out = Buffer.alloc(16);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  if (isIPv4(ip)) {
    const parts = ip.split('.').map(Number);
    for (let i = 0; i < 4; i++) out[12 + i] = parts[i]!;
    return out;
  }
  assert(isIPv6(ip), `address literal: ${ip}`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined
    ? headGroups
    : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i]!, 16), i * 2);
  return out;
}

/** True when the 16 bytes hold an IPv4 address (12 zero bytes, non-zero 13th). */
export function isIPv4Addr(addr: Buffer): boolean {
  return addr.subarray(0, 12).equals(ZERO16.subarray(0, 12)) && addr[12] !== 0;
}

/** inet_ntop of a node_id address. */
export function addrToString(addr: Buffer): string {
  if (isIPv4Addr(addr)) return `${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(addr.readUInt16BE(i * 2));
  // compress the longest run (length >= 2) of zero groups, as inet_ntop does
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** `host:port` as dog prints it (no brackets for IPv6). */
export function nodeAddrString(n: Pick<SdNode, 'addr' | 'port'>): string {
  return `${addrToString(n.addr)}:${n.port}`;
}

/** The long "node id string": `IPv4 ip:127.0.0.1 port:7000`. */
export function nodeIdString(n: Pick<SdNode, 'addr' | 'port'>): string {
  return `${isIPv4Addr(n.addr) ? 'IPv4' : 'IPv6'} ip:${addrToString(n.addr)} port:${n.port}`;
}

/** The address to connect to for data traffic: the I/O address when there is one. */
export function nodeIoTarget(n: SdNode): { host: string; port: number } {
  if (n.ioPort !== 0) return { host: addrToString(n.ioAddr), port: n.ioPort };
  return { host: addrToString(n.addr), port: n.port };
}

/** Node ordering: memcmp of addr, then port. */
export function compareNodes(a: Pick<SdNode, 'addr' | 'port'>, b: Pick<SdNode, 'addr' | 'port'>): number {
  const c = Buffer.compare(a.addr, b.addr);
  return c !== 0 ? c : a.port - b.port;
}

export function sameNode(a: Pick<SdNode, 'addr' | 'port'>, b: Pick<SdNode, 'addr' | 'port'>): boolean {
  return a.port === b.port && a.addr.equals(b.addr);
}

/** A stable string key for maps keyed by node identity. */
export function nodeKey(n: Pick<SdNode, 'addr' | 'port'>): string {
  return `${n.addr.toString('hex')}:${n.port}`;
}

/** The default zone: the last 4 address bytes as a little-endian u32. */
export function defaultZone(addr: Buffer): number {
  return addr.readUInt32LE(12);
}

export function makeNode(ip: string, port: number, opts: Partial<Omit<SdNode, 'addr' | 'port'>> = {}): SdNode {
  const addr = encodeAddr(ip);
  return {
    addr,
    port,
    ioAddr: opts.ioAddr ?? Buffer.alloc(16),
    ioPort: opts.ioPort ?? 0,
    nrVnodes: opts.nrVnodes ?? 128,
    zone: opts.zone ?? defaultZone(addr),
    space: opts.space ?? 0n,
  };
}

export function encodeNode(n: SdNode, out: Buffer = Buffer.alloc(SD_NODE_SIZE), at = 0): Buffer {
  assert(n.addr.length === 16 && n.ioAddr.length === 16, 'node addresses are 16 bytes');
  out.fill(0, at, at + SD_NODE_SIZE);
  n.addr.copy(out, at + 24);
  out.writeUInt16LE(n.port, at + 40);
  n.ioAddr.copy(out, at + 42);
  out.writeUInt16LE(n.ioPort, at + 58);
  out.writeUInt16LE(n.nrVnodes, at + 64);
  out.writeUInt32LE(n.zone >>> 0, at + 68);
  out.writeBigUInt64LE(n.space, at + 72);
  return out;
}

export function decodeNode(buf: Buffer, at = 0): SdNode {
  assert(buf.length >= at + SD_NODE_SIZE, 'sd_node needs 80 bytes');
  return {
    addr: Buffer.from(buf.subarray(at + 24, at + 40)),
    port: buf.readUInt16LE(at + 40),
    ioAddr: Buffer.from(buf.subarray(at + 42, at + 58)),
    ioPort: buf.readUInt16LE(at + 58),
    nrVnodes: buf.readUInt16LE(at + 64),
    zone: buf.readUInt32LE(at + 68),
    space: buf.readBigUInt64LE(at + 72),
  };
}

export function encodeNodes(nodes: readonly SdNode[]): Buffer {
  const out = Buffer.alloc(nodes.length * SD_NODE_SIZE);
  nodes.forEach((n, i) => encodeNode(n, out, i * SD_NODE_SIZE));
  return out;
}

export function decodeNodes(buf: Buffer, count = Math.floor(buf.length / SD_NODE_SIZE), at = 0): SdNode[] {
  const out: SdNode[] = [];
  for (let i = 0; i < count; i++) out.push(decodeNode(buf, at + i * SD_NODE_SIZE));
  return out;
}

/** The 18 bytes (addr + port) that seed a node's vnode hashes. */
export function nodeHashKey(n: Pick<SdNode, 'addr' | 'port'>): Buffer {
  const b = Buffer.alloc(18);
  n.addr.copy(b, 0);
  b.writeUInt16LE(n.port, 16);
  return b;
}
