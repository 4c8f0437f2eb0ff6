/**
 * Placement model: the project's own ring (shared/placement.ts) on simulated
 * members, no processes. For 1000 and 10000 nodes in zones, with capacities
 * weighted by auto vnodes (as `dog cluster format` without -V does) and with
 * the fixed 128 vnodes, it reports
 *  - the time and memory to build the ring and to place objects;
 *  - spread: max/mean load per node and per zone, each node's load divided by
 *    what its capacity entitles it to; once exactly (the hash-space share of
 *    every node from the ring's arcs, no sampling noise) and once from the
 *    sampled objects;
 *  - the fraction of object copies whose holder changes when one node joins,
 *    one node leaves and one zone is lost, against the ideal (the capacity
 *    share of the node or zone that came or went), and the share its arcs
 *    actually held (moving exactly that much is the least any ring can do).
 *
 * Run: npm run build && node build/test/bench/placement.js [objects, default 2000000]
 */
import { autoVnodes, VnodeRing } from '../../shared/placement.js';
import { makeNode, nodeKey, type SdNode } from '../../shared/node.js';
import { seededRandom } from '../lib/history.js';

const OBJECTS = Number(process.argv[2] ?? 2_000_000);
const COPIES = 3;
const TiB = 1n << 40n;
/** Capacity mix of the heterogeneous clusters: [TiB, share of nodes]. */
const CAPACITY_MIX: readonly [bigint, number][] = [[4n, 0.5], [8n, 0.3], [16n, 0.2]];
/** Objects per VDI: oids are vid << 32 | index, as data objects are. */
const OBJECTS_PER_VDI = 100_000;

const prng = seededRandom;

function ipOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function members(count: number, zones: number, weighted: boolean, seed: number, vnodes = 128): SdNode[] {
  const rnd = prng(seed);
  const out: SdNode[] = [];
  for (let i = 0; i < count; i++) {
    let space = 8n * TiB;
    if (weighted) {
      let r = rnd();
      for (const [tib, share] of CAPACITY_MIX) {
        space = tib * TiB;
        if ((r -= share) < 0) break;
      }
    }
    out.push(makeNode(ipOf(i + 1), 7000, { zone: i % zones, space, nrVnodes: vnodes }));
  }
  return out;
}

/** The nodes placement sees: auto vnodes from capacity, or the fixed count. */
const effective = (nodes: SdNode[], auto: boolean): SdNode[] => (auto ? autoVnodes(nodes) : nodes);

/** CPU milliseconds of this process: the machine is shared, wall time is not ours alone. */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const ms = (t0: number) => cpuNow() - t0;
/** Bytes a ring holds: hash high and low halves and the owner, 4 bytes each, per vnode. */
const RING_BYTES_PER_VNODE = 12;
const maxRssMiB = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);
const f2 = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(x * 100).toFixed(3)}%`;

interface Placed {
  ring: VnodeRing;
  /** Node keys of the ring's nodes, by ring node index. */
  keys: string[];
  /** COPIES holder indexes (into ring.nodes) per object. */
  holders: Uint32Array;
  buildMs: number;
  placeMs: number;
}

function oidOf(k: number): bigint {
  const vid = 0x100000 + Math.floor(k / OBJECTS_PER_VDI) * 7919; // distinct 24-bit vids
  return (BigInt(vid & 0xffffff) << 32n) | BigInt(k % OBJECTS_PER_VDI);
}

function place(nodes: SdNode[]): Placed {
  let t0 = cpuNow();
  const ring = new VnodeRing(nodes);
  const buildMs = ms(t0);
  const holders = new Uint32Array(OBJECTS * COPIES);
  t0 = cpuNow();
  for (let k = 0; k < OBJECTS; k++) {
    const hs = ring.holderIndexes(oidOf(k), COPIES);
    for (let c = 0; c < COPIES; c++) holders[k * COPIES + c] = hs[c]!;
  }
  return { ring, keys: ring.nodes.map(nodeKey), holders, buildMs, placeMs: ms(t0) };
}

/** Each node's expected share of all copies: its capacity (vnodes) over the total. */
function entitlement(ring: VnodeRing): number[] {
  const total = ring.nodes.reduce((s, n) => s + n.nrVnodes, 0);
  return ring.nodes.map((n) => n.nrVnodes / total);
}

/** max and mean of load / entitlement over nodes and over zones. */
function spread(ring: VnodeRing, load: Float64Array): { node: number; zone: number; minNode: number } {
  const ent = entitlement(ring);
  const sum = load.reduce((s, x) => s + x, 0);
  let max = 0, min = Infinity;
  const zoneLoad = new Map<number, number>(), zoneEnt = new Map<number, number>();
  ring.nodes.forEach((n, i) => {
    const r = load[i]! / sum / ent[i]!; // 1.0 = exactly its share
    max = Math.max(max, r);
    min = Math.min(min, r);
    zoneLoad.set(n.zone, (zoneLoad.get(n.zone) ?? 0) + load[i]!);
    zoneEnt.set(n.zone, (zoneEnt.get(n.zone) ?? 0) + ent[i]!);
  });
  let zmax = 0;
  for (const [z, l] of zoneLoad) zmax = Math.max(zmax, l / sum / zoneEnt.get(z)!);
  // the mean of load/entitlement weighted by entitlement is 1 by construction
  return { node: max, zone: zmax, minNode: min };
}

/** Every node's exact share of copies: the arcs of the ring it holds a copy of. */
function exactLoad(ring: VnodeRing): Float64Array {
  const load = new Float64Array(ring.nodes.length);
  for (let v = 0; v < ring.size; v++) {
    const f = ring.arcFraction(v);
    for (const i of ring.holderIndexesFrom(v, COPIES)) load[i]! += f;
  }
  return load;
}

function sampledLoad(p: Placed): Float64Array {
  const load = new Float64Array(p.ring.nodes.length);
  for (let j = 0; j < p.holders.length; j++) load[p.holders[j]!]! += 1;
  return load;
}

/** Fraction of all copies whose holder set no longer contains them (copies that must move). */
function moved(a: Placed, b: Placed): number {
  let count = 0;
  const set = new Set<string>();
  for (let k = 0; k < OBJECTS; k++) {
    set.clear();
    for (let c = 0; c < COPIES; c++) set.add(a.keys[a.holders[k * COPIES + c]!]!);
    for (let c = 0; c < COPIES; c++) if (!set.has(b.keys[b.holders[k * COPIES + c]!]!)) count++;
  }
  return count / (OBJECTS * COPIES);
}

/**
 * Exact fraction of copies that move from ring a to ring b: walk the union of
 * both rings' vnode hashes; on each interval between two consecutive points
 * both rings have one holder set, and the copies of b's set missing from a's
 * move, weighted by the interval's length.
 */
function movedExact(a: VnodeRing, b: VnodeRing): number {
  const ka = a.nodes.map(nodeKey), kb = b.nodes.map(nodeKey);
  const ha = Array.from({ length: a.size }, (_, v) => a.vnodeHash(v));
  const hb = Array.from({ length: b.size }, (_, v) => b.vnodeHash(v));
  const holdersA = (v: number) => new Set(a.holderIndexesFrom(v, COPIES).map((i) => ka[i]!));
  const holdersB = (v: number) => b.holderIndexesFrom(v, COPIES).map((i) => kb[i]!);
  const TWO64 = 2 ** 64;
  const last = ha[ha.length - 1]! > hb[hb.length - 1]! ? ha[ha.length - 1]! : hb[hb.length - 1]!;
  let ia = 0, ib = 0, prev = last, movedSum = 0;
  let cacheA = -1, setA = new Set<string>(), cacheB = -1, listB: string[] = [];
  while (ia < ha.length || ib < hb.length) {
    const x = ib >= hb.length || (ia < ha.length && ha[ia]! <= hb[ib]!) ? ha[ia]! : hb[ib]!;
    // the interval (prev, x]: its first vnode in each ring is the first with hash >= x
    const va = ia < ha.length ? ia : 0, vb = ib < hb.length ? ib : 0;
    if (va !== cacheA) [cacheA, setA] = [va, holdersA(va)];
    if (vb !== cacheB) [cacheB, listB] = [vb, holdersB(vb)];
    const len = x > prev ? Number(x - prev) : Number(x - prev) + TWO64;
    let miss = 0;
    for (const k of listB) if (!setA.has(k)) miss++;
    movedSum += miss * len;
    prev = x;
    while (ia < ha.length && ha[ia]! === x) ia++;
    while (ib < hb.length && hb[ib]! === x) ib++;
  }
  return movedSum / TWO64 / COPIES;
}

/** How many nodes present in both lists have a different vnode count. */
function vnodeChanges(a: SdNode[], b: SdNode[]): number {
  const before = new Map(a.map((n) => [nodeKey(n), n.nrVnodes]));
  return b.filter((n) => before.has(nodeKey(n)) && before.get(nodeKey(n)) !== n.nrVnodes).length;
}

/** Share of all copies entitled to the given nodes (by vnodes) in a ring. */
function shareOf(ring: VnodeRing, pick: (n: SdNode) => boolean): number {
  const ent = entitlement(ring);
  return ring.nodes.reduce((s, n, i) => s + (pick(n) ? ent[i]! : 0), 0);
}

function scenario(count: number, zones: number, auto: boolean): void {
  const title = `${count} nodes, ${zones} zones, ${auto ? 'auto vnodes by capacity (4/8/16 TiB: 50/30/20%)' : 'fixed 128 vnodes'}`;
  console.log(`\n== ${title}; ${OBJECTS} objects x ${COPIES} copies`);
  const all = members(count + 1, zones, auto, count);
  const base = all.slice(0, count);
  const joiner = all[count]!;
  const eBase = effective(base, auto);
  const p = place(eBase);
  console.log(`ring: ${p.ring.size} vnodes (${((p.ring.size * RING_BYTES_PER_VNODE) / 2 ** 20).toFixed(1)} MiB of arrays), built in ${p.buildMs.toFixed(0)} ms CPU;` +
    ` placing: ${((p.placeMs * 1e6) / OBJECTS).toFixed(0)} ns CPU an object (${(p.placeMs / 1000).toFixed(1)} s)`);
  let t0 = cpuNow();
  const ex = spread(p.ring, exactLoad(p.ring));
  const exMs = ms(t0);
  const sa = spread(p.ring, sampledLoad(p));
  const perNode = (OBJECTS * COPIES) / count;
  console.log(`spread (load / capacity share; 1.00 is ideal): exact from arcs: node max ${f2(ex.node)} min ${f2(ex.minNode)}, zone max ${f2(ex.zone)}` +
    ` (${exMs.toFixed(0)} ms); sampled (~${perNode.toFixed(0)} copies a node): node max ${f2(sa.node)} min ${f2(sa.minNode)}, zone max ${f2(sa.zone)}`);

  /** The share of copies the ring actually gives the picked nodes (their arcs), next to what they are entitled to. */
  const held = (ring: VnodeRing, pick: (n: SdNode) => boolean): number => {
    const load = exactLoad(ring);
    return ring.nodes.reduce((s, n, i) => s + (pick(n) ? load[i]! : 0), 0) / COPIES;
  };
  const event = (what: string, nodes: SdNode[], ideal: (before: VnodeRing, after: VnodeRing) => number,
    actual: (before: VnodeRing, after: VnodeRing) => number): void => {
    const e = effective(nodes, auto);
    const q = place(e);
    const want = ideal(p.ring, q.ring);
    const sampled = moved(p, q);
    const exact = movedExact(p.ring, q.ring);
    console.log(`${what}: moved ${pct(exact)} of copies (sampled ${pct(sampled)}), ideal ${pct(want)}: x${f2(exact / want)};` +
      ` its arcs held ${pct(actual(p.ring, q.ring))}; ${vnodeChanges(eBase, e)} nodes changed vnode count`);
  };
  const is = (k: SdNode) => (n: SdNode) => nodeKey(n) === nodeKey(k);
  event(`join of one ${joiner.space / TiB} TiB node`, all, (_, after) => shareOf(after, is(joiner)), (_, after) => held(after, is(joiner)));
  event(`leave of one ${base[0]!.space / TiB} TiB node`, base.slice(1), (before) => shareOf(before, is(base[0]!)),
    (before) => held(before, is(base[0]!)));
  const zone0 = base.filter((n) => n.zone === 0).length;
  const inZone0 = (n: SdNode) => n.zone === 0;
  event(`loss of zone 0 (${zone0} nodes)`, base.filter((n) => n.zone !== 0), (before) => shareOf(before, inZone0),
    (before) => held(before, inZone0));
  console.log(`peak RSS so far ${maxRssMiB()} MiB`);
}

/** Spread against the vnode count (-V), exact from arcs: what more vnodes buy and cost. */
function vnodeSweep(count: number, zones: number): void {
  console.log(`\n== ${count} nodes, ${zones} zones, equal capacity: spread against fixed vnodes (-V)`);
  for (const v of [64, 128, 256, 512, 1024]) {
    const nodes = members(count, zones, false, 7, v);
    const t0 = cpuNow();
    const ring = new VnodeRing(nodes);
    const buildMs = ms(t0);
    const s = spread(ring, exactLoad(ring));
    console.log(`-V ${String(v).padStart(4)}: node max ${f2(s.node)} min ${f2(s.minNode)}, zone max ${f2(s.zone)};` +
      ` ring ${ring.size} vnodes, built in ${buildMs.toFixed(0)} ms CPU`);
  }
}

console.log(`placement model, node ${process.version}; times are CPU time of this process`);
scenario(1000, 20, true);
scenario(1000, 20, false);
scenario(10000, 100, true);
scenario(10000, 100, false);
vnodeSweep(1000, 20);
