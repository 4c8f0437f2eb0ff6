import { assert } from './errors.js';
import { sdHash, sdHashNextParts, sdHashOidParts } from './hash.js';
import { nodeHashKey, type SdNode } from './node.js';

/** Zones are counted up to this many (SD_MAX_COPIES). */
const MAX_ZONES = 31;

/**
 * The consistent-hash ring of virtual nodes. `dog` rebuilds this from the node
 * list to say where objects live, so it reproduces the original bit for bit.
 * Hashes are kept as 32-bit halves in typed arrays and sorted by radix: a ring
 * of 10000 nodes has over a million vnodes, built on every epoch change.
 */
export class VnodeRing {
  /** Members that hold data (nr_vnodes > 0), in the order they were given. */
  readonly nodes: readonly SdNode[];
  readonly nrZones: number;
  /** Vnode hashes in ring order, high and low 32 bits. */
  private readonly hashHi: Uint32Array;
  private readonly hashLo: Uint32Array;
  /** Index into `nodes` of each vnode's node, in ring order. */
  private readonly owners: Uint32Array;
  private readonly ownerZones: readonly number[];
  private readonly scratch = new Uint32Array(2);

  constructor(members: readonly SdNode[]) {
    this.nodes = members.filter((n) => n.nrVnodes > 0);
    const total = this.nodes.reduce((s, n) => s + n.nrVnodes, 0);
    const hi = new Uint32Array(total), lo = new Uint32Array(total), own = new Uint32Array(total);
    const h = this.scratch;
    let at = 0;
    this.nodes.forEach((n, owner) => {
      const base = sdHash(nodeHashKey(n));
      h[0] = Number(base >> 32n);
      h[1] = Number(base & 0xffffffffn);
      for (let k = 0; k < n.nrVnodes; k++, at++) {
        sdHashNextParts(h);
        hi[at] = h[0]!;
        lo[at] = h[1]!;
        own[at] = owner;
      }
    });
    const order = hashOrder(hi, lo);
    this.hashHi = order.map((i) => hi[i]!);
    this.hashLo = order.map((i) => lo[i]!);
    this.owners = order.map((i) => own[i]!);
    this.ownerZones = this.nodes.map((n) => n.zone);
    const zones = new Set(this.ownerZones);
    this.nrZones = Math.min(zones.size, MAX_ZONES);
  }

  get isEmpty(): boolean {
    return this.owners.length === 0;
  }

  /** Number of vnodes on the ring. */
  get size(): number {
    return this.owners.length;
  }

  /** Index of the first vnode whose hash is >= (hHi, hLo), wrapping to 0. */
  private firstVnode(hHi: number, hLo: number): number {
    const his = this.hashHi, los = this.hashLo;
    let lo = 0, hi = his.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const mHi = his[mid]!;
      if (mHi < hHi || (mHi === hHi && los[mid]! < hLo)) lo = mid + 1;
      else hi = mid;
    }
    return lo === his.length ? 0 : lo;
  }

  /**
   * The nodes that hold an object, in copy order: walk the ring from the object's
   * hash, taking each vnode whose zone is not yet used. At most nrZones copies.
   */
  holders(oid: bigint, copies: number): SdNode[] {
    return this.holderIndexes(oid, copies).map((i) => this.nodes[i]!);
  }

  holderIndexes(oid: bigint, copies: number): number[] {
    if (this.isEmpty) return [];
    const h = this.scratch;
    sdHashOidParts(Number(oid >> 32n) >>> 0, Number(oid & 0xffffffffn), h);
    return this.holderIndexesFrom(this.firstVnode(h[0]!, h[1]!), copies);
  }

  /** The holders of every hash whose first vnode is `vnode` (an index in ring order). */
  holderIndexesFrom(vnode: number, copies: number): number[] {
    const want = Math.min(copies, this.nrZones);
    const picked: number[] = [];
    const zones: number[] = [];
    const len = this.owners.length;
    for (let step = 0; step < len && picked.length < want; step++) {
      const owner = this.owners[(vnode + step) % len]!;
      const zone = this.ownerZones[owner]!;
      if (zones.includes(zone)) continue;
      zones.push(zone);
      picked.push(owner);
    }
    assert(picked.length === want, 'ring walk found a holder in every zone');
    return picked;
  }

  /**
   * The share of the hash space whose first vnode is `vnode`: the arc from the
   * previous vnode's hash (exclusive) to this one's (inclusive), as a fraction of 2^64.
   */
  arcFraction(vnode: number): number {
    const len = this.owners.length;
    if (len === 1) return 1;
    const prev = (vnode + len - 1) % len;
    let d = (this.hashHi[vnode]! - this.hashHi[prev]!) * TWO32 + (this.hashLo[vnode]! - this.hashLo[prev]!);
    if (vnode === 0) d += TWO64;
    return d / TWO64;
  }

  /** The hash of a vnode (an index in ring order). */
  vnodeHash(vnode: number): bigint {
    return (BigInt(this.hashHi[vnode]!) << 32n) | BigInt(this.hashLo[vnode]!);
  }

  /** Number of copies actually placed for a requested count. */
  effectiveCopies(copies: number): number {
    return Math.min(copies, this.nrZones);
  }
}

const TWO32 = 0x1_0000_0000;
const TWO64 = TWO32 * TWO32;
const RADIX_BITS = 8;
const RADIX = 1 << RADIX_BITS;

/**
 * The permutation that sorts 64-bit hashes (hi, lo) ascending, stable (equal
 * hashes keep their insertion order, as the original's comparison sort does
 * not care about): least-significant-digit radix sort, 8 bits a pass.
 */
export function hashOrder(hi: Uint32Array, lo: Uint32Array): Uint32Array {
  const n = hi.length;
  let idx = new Uint32Array(n), tmp = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const count = new Uint32Array(RADIX);
  for (let pass = 0; pass < 64 / RADIX_BITS; pass++) {
    const key = pass < 32 / RADIX_BITS ? lo : hi;
    const shift = (pass * RADIX_BITS) % 32;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(key[idx[i]!]! >>> shift) & (RADIX - 1)]!++;
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const j = idx[i]!;
      tmp[count[(key[j]! >>> shift) & (RADIX - 1)]!++] = j;
    }
    [idx, tmp] = [tmp, idx];
  }
  return idx;
}

/** rintf: round to nearest, ties to even. */
function rintEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Auto-vnodes: every node's vnode count from its space relative to the mean, in
 * single-precision arithmetic as the original computes it. Gateways get 0.
 */
export function autoVnodes(nodes: readonly SdNode[]): SdNode[] {
  const withSpace = nodes.filter((n) => n.space > 0n);
  if (withSpace.length === 0) return nodes.map((n) => ({ ...n }));
  const avg = withSpace.reduce((s, n) => s + n.space, 0n) / BigInt(withSpace.length);
  const favg = Math.fround(Number(avg));
  return nodes.map((n) => {
    if (n.space === 0n) return { ...n, nrVnodes: 0 };
    const factor = Math.fround(Math.fround(Number(n.space)) / favg);
    const v = rintEven(Math.fround(128 * factor));
    return { ...n, nrVnodes: v & 0xffff };
  });
}
