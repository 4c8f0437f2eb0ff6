import { assert } from './errors.js';
import { sdHash, sdHashNext, sdHashOid } from './hash.js';
import { nodeHashKey, type SdNode } from './node.js';

/** Zones are counted up to this many (SD_MAX_COPIES). */
const MAX_ZONES = 31;

/**
 * The consistent-hash ring of virtual nodes. `dog` rebuilds this from the node
 * list to say where objects live, so it reproduces the original bit for bit.
 */
export class VnodeRing {
  /** Members that hold data (nr_vnodes > 0), in the order they were given. */
  readonly nodes: readonly SdNode[];
  readonly nrZones: number;
  private readonly hashes: BigUint64Array;
  private readonly owners: Uint32Array;

  constructor(members: readonly SdNode[]) {
    this.nodes = members.filter((n) => n.nrVnodes > 0);
    const entries: { h: bigint; owner: number }[] = [];
    this.nodes.forEach((n, owner) => {
      let h = sdHash(nodeHashKey(n));
      for (let k = 0; k < n.nrVnodes; k++) {
        h = sdHashNext(h);
        entries.push({ h, owner });
      }
    });
    entries.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
    this.hashes = BigUint64Array.from(entries.map((e) => e.h));
    this.owners = Uint32Array.from(entries.map((e) => e.owner));
    const zones = new Set(this.nodes.map((n) => n.zone));
    this.nrZones = Math.min(zones.size, MAX_ZONES);
  }

  get isEmpty(): boolean {
    return this.hashes.length === 0;
  }

  /** Index of the first vnode whose hash is >= h, wrapping to 0. */
  private firstVnode(h: bigint): number {
    let lo = 0, hi = this.hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.hashes.length ? 0 : lo;
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
    const want = Math.min(copies, this.nrZones);
    const start = this.firstVnode(sdHashOid(oid));
    const picked: number[] = [];
    const zones: number[] = [];
    const len = this.hashes.length;
    for (let step = 0; step < len && picked.length < want; step++) {
      const owner = this.owners[(start + step) % len]!;
      const zone = this.nodes[owner]!.zone;
      if (zones.includes(zone)) continue;
      zones.push(zone);
      picked.push(owner);
    }
    assert(picked.length === want, 'ring walk found a holder in every zone');
    return picked;
  }

  /** Number of copies actually placed for a requested count. */
  effectiveCopies(copies: number): number {
    return Math.min(copies, this.nrZones);
  }
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
