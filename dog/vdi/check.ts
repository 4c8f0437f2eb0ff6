/**
 * dog vdi check [-s snap] [-e] <vdiname> (cli.md §2.7.1): compare the copies of
 * every object (inode and data) by their SHA-1 and repair the odd ones out
 * from the majority; or with -e only ask each node which objects it lacks.
 * Erasure-coded objects are read strip by strip; missing and corrupted strips
 * are rebuilt with the code and written back to their holders.
 */
import { HyperTree } from '../../shared/btree.js';
import { ecCode, locateBadStrips } from '../../shared/ec/code.js';
import { countDataObjs, decodeInodeHeader } from '../../shared/inode.js';
import { nodeAddrString, nodeKey, type SdNode } from '../../shared/node.js';
import { ecPolicyToDp, isEcObj, oidToVid, vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { VnodeRing } from '../../shared/placement.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { untrim } from '../../shared/client.js';
import { lightRequest } from '../object-io.js';
import { err, out } from '../output.js';
import { Progress } from '../progress.js';
import { orderedWindow } from '../window.js';
import { inodeIndex } from './inode-index.js';
import { readVdiObj } from './open.js';
import { INODE_WITH_INDEX } from './read.js';

const hex = (n: bigint): string => n.toString(16);

/** Boyer-Moore majority vote over the digests found; undefined when none is a majority. */
export function majority(digests: readonly (string | undefined)[]): string | undefined {
  const found = digests.filter((d): d is string => d !== undefined);
  let cand: string | undefined;
  let count = 0;
  for (const d of found) {
    if (count === 0) { cand = d; count = 1; } else if (d === cand) count++; else count--;
  }
  if (cand === undefined) return undefined;
  return found.filter((d) => d === cand).length * 2 > found.length ? cand : undefined;
}

/** One object put right: a missing or differing copy (or EC strip) rewritten. */
export interface Fix {
  oid: bigint;
  missing: boolean;
  /** the strip, for erasure-coded objects */
  copyIndex?: number;
}

const fixLine = (f: Fix): string =>
  `fixed ${f.missing ? 'missing' : 'replica'} ${hex(f.oid)}${f.copyIndex === undefined ? '' : `, copy index ${f.copyIndex}`}\n`;

/** What `cluster check --format json` collects for one VDI instead of printing fix lines. */
export interface CheckReport {
  fixed: Fix[];
  errors: string[];
}

interface Outcome {
  fixes: Fix[];
  errors: string[];
  fatal?: number;
}

async function checkReplicated(dog: Dog, ring: VnodeRing, oid: bigint, copies: number): Promise<Outcome> {
  const o: Outcome = { fixes: [], errors: [] };
  const holders = ring.holders(oid, copies);
  const digests = await Promise.all(holders.map(async (n): Promise<string | undefined | number> => {
    const h = SdHeader.request(SD_OP.GET_HASH);
    h.epoch = dog.epoch;
    h.objOid = oid;
    h.objTgtEpoch = dog.epoch;
    const r = await dog.exec(h, undefined, dog.nodeTarget(n));
    if (!r) return EXIT.SYSFAIL;
    if (r.hdr.result === SD_RES.NO_OBJ) return undefined;
    if (r.hdr.result !== SD_RES.SUCCESS) {
      o.errors.push(`failed to read ${hex(oid)}, ${resultText(r.hdr.result)}`);
      return EXIT.FAILURE;
    }
    return Buffer.from(r.hdr.rspDigest).toString('hex');
  }));
  const bad = digests.find((d) => typeof d === 'number');
  if (bad !== undefined) return { ...o, fatal: bad as number };
  const found = digests as (string | undefined)[];
  if (found.every((d) => d === undefined)) {
    o.errors.push(`no node has ${hex(oid)}`);
    return o;
  }
  const win = majority(found);
  if (win === undefined) {
    o.errors.push(`no majority of ${hex(oid)}`);
    return o;
  }
  const src = holders[found.indexOf(win)]!;
  for (const [i, dst] of holders.entries()) {
    if (found[i] === win) continue;
    const h = SdHeader.request(SD_OP.REPAIR_REPLICA);
    h.epoch = dog.epoch;
    h.forwOid = oid;
    h.forwAddr = src.addr;
    h.forwPort = src.port;
    if (await lightRequest(dog, h, dog.nodeTarget(dst))) {
      o.fixes.push({ oid, missing: found[i] === undefined });
    } else {
      o.errors.push(`failed to repair object ${hex(oid).padStart(16, '0')} from ${nodeAddrString(src)} to ${nodeAddrString(dst)}`);
    }
  }
  return o;
}

/**
 * One EC object (check_erasure_object): read every strip from its holder; the
 * missing ones (NO_OBJ) and the ones that disagree with the rest are rebuilt
 * from the others and created again on their holder. The original only
 * reported a disagreement (`is inconsistent`); here a strip that can be told
 * apart (up to ⌊(present − d)/2⌋ of them) is rebuilt too, and strips that
 * cannot be told apart are left alone and reported as the original does.
 */
async function checkErasure(dog: Dog, ring: VnodeRing, oid: bigint, policy: number, objSize: number): Promise<Outcome> {
  const o: Outcome = { fixes: [], errors: [] };
  const { d, p } = ecPolicyToDp(policy);
  const code = ecCode(d, p);
  const holders = ring.holders(oid, d + p);
  const len = objSize / d;
  const strips = await Promise.all(holders.map(async (n, i): Promise<Buffer | undefined | number> => {
    const h = SdHeader.request(SD_OP.READ_PEER, 0, len);
    h.epoch = dog.epoch;
    h.objOid = oid;
    h.objEcIndex = i;
    h.objTgtEpoch = dog.epoch;
    const r = await dog.exec(h, undefined, dog.nodeTarget(n));
    if (!r) return EXIT.SYSFAIL;
    if (r.hdr.result === SD_RES.NO_OBJ) return undefined;
    if (r.hdr.result !== SD_RES.SUCCESS) {
      o.errors.push(`failed to read ${hex(oid)} from ${nodeAddrString(n)}, ${resultText(r.hdr.result)}`);
      return EXIT.FAILURE;
    }
    return untrim(r, len);
  }));
  const bad = strips.find((x) => typeof x === 'number');
  if (bad !== undefined) return { ...o, fatal: bad as number };
  const slots = strips as (Buffer | undefined)[];
  const missing = [...slots.keys()].filter((i) => slots[i] === undefined);
  if (missing.length > p) {
    o.errors.push(`failed to rebuild object ${hex(oid)}. ${missing.length} copies get lost, more than ${p}`);
    return o;
  }
  const corrupt = locateBadStrips(code, slots);
  if (corrupt === undefined) {
    o.errors.push(`object ${hex(oid)} is inconsistent`);
    return o;
  }
  const good = slots.map((s, i) => (corrupt.includes(i) ? undefined : s));
  for (const m of [...missing, ...corrupt].sort((a, b) => a - b)) {
    const [strip] = code.reconstruct(good, [m]);
    const h = SdHeader.request(SD_OP.CREATE_AND_WRITE_PEER, SD_FLAG.CMD_WRITE, len);
    h.epoch = dog.epoch;
    h.objOid = oid;
    h.objEcIndex = m;
    const r = await dog.exec(h, Buffer.from(strip!.buffer, strip!.byteOffset, strip!.length), dog.nodeTarget(holders[m]!));
    if (!r) return { ...o, fatal: EXIT.SYSFAIL };
    if (r.hdr.result !== SD_RES.SUCCESS) {
      o.errors.push(`FATAL: failed to write ${hex(oid)}, ${resultText(r.hdr.result)}`);
      return { ...o, fatal: EXIT.FAILURE };
    }
    o.fixes.push({ oid, missing: missing.includes(m), copyIndex: m });
  }
  return o;
}

/** -e: ask each node which of the objects it should hold it lacks (OIDS_EXIST). */
async function checkExist(dog: Dog, ring: VnodeRing, oids: bigint[], copies: number, name: string): Promise<number> {
  const perNode = new Map<string, { node: SdNode; oids: bigint[] }>();
  for (const n of dog.nodes) perNode.set(nodeKey(n), { node: n, oids: [] });
  for (const oid of oids) for (const n of ring.holders(oid, copies)) perNode.get(nodeKey(n))?.oids.push(oid);
  let total = 0;
  for (const { node, oids: list } of perNode.values()) {
    const payload = Buffer.alloc(list.length * 8);
    list.forEach((oid, i) => payload.writeBigUInt64LE(oid, i * 8));
    const h = SdHeader.request(SD_OP.OIDS_EXIST, SD_FLAG.CMD_WRITE | SD_FLAG.CMD_PIGGYBACK, payload.length);
    const r = await dog.exec(h, payload, dog.nodeTarget(node));
    if (!r) return EXIT.SYSFAIL;
    for (let at = 0; at + 8 <= r.data.length; at += 8) {
      out(`[${nodeAddrString(node)}] oid ${r.data.readBigUInt64LE(at).toString(16).padStart(16, '0')} is missing.\n`);
      total++;
    }
  }
  if (total === 0) {
    out(`${name} is fine, no object is missing.\n`);
    return EXIT.SUCCESS;
  }
  out(`${name} lost ${total} object(s).\n`);
  return EXIT.FAILURE;
}

/**
 * Check and repair one VDI given its inode (header + index); prints the outcome
 * lines, or with a report collects them there (errors still go to stderr).
 */
export async function checkVdi(dog: Dog, inode: Buffer, report?: CheckReport): Promise<number> {
  const h = decodeInodeHeader(inode);
  const index = await inodeIndex(dog, inode, h.storePolicy, countDataObjs(h));
  if (!index) return EXIT.FAILURE;
  const ring = new VnodeRing(dog.nodes);
  const copies = Math.min(h.nrCopies, dog.zones);
  // a two-level hyper volume's leaf objects are checked as its inode is (those of its own vid)
  const leaves = index instanceof HyperTree ? index.leafOids().filter((oid) => oidToVid(oid) === h.vdiId) : [];
  const oids = [vidToVdiOid(h.vdiId), ...leaves, ...[...index.entries()].map(([i, vid]) => vidToDataOid(vid, i))];
  if (dog.opts.exist) return checkExist(dog, ring, oids, copies, h.name);
  const objSize = 2 ** h.blockSizeShift;
  if (h.copyPolicy !== 0) {
    const { d, p } = ecPolicyToDp(h.copyPolicy);
    if (dog.zones < d + p) {
      err('ABORT: Not enough active zones for consistency-checking erasure coded VDI');
      return EXIT.FAILURE;
    }
  }
  const total = h.vdiSize;
  let done = 0;
  // 1.0 draws its bar on stdout; JSON on a terminal keeps it to stderr
  const progress = new Progress(total, oids.length, { originalBar: !report, label: h.name });
  const one = (oid: bigint): Promise<Outcome> => (isEcObj(oid, h.copyPolicy)
    ? checkErasure(dog, ring, oid, h.copyPolicy, objSize)
    : checkReplicated(dog, ring, oid, copies));
  for await (const o of orderedWindow(oids, 8, one)) {
    for (const e of o.errors) err(e);
    if (report) {
      report.errors.push(...o.errors);
      report.fixed.push(...o.fixes);
    } else {
      for (const f of o.fixes) out(fixLine(f));
    }
    if (o.fatal !== undefined) {
      progress.abort();
      return o.fatal;
    }
    done = Math.min(done + objSize, total);
    progress.update(done);
  }
  progress.end();
  if (!report) out(`finish check&repair ${h.name}\n`);
  return EXIT.SUCCESS;
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const o = dog.opts;
  const opened = await readVdiObj(dog, args[0]!, o.snapshotId, o.snapshotTag, INODE_WITH_INDEX);
  if (!opened) {
    err('FATAL: no inode objects');
    return EXIT.FAILURE;
  }
  return checkVdi(dog, opened.inode);
}
