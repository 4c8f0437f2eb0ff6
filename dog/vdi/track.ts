/** dog vdi track [-i idx | -o oid] [-s snap] <vdiname>: where an object lived in every epoch (cli.md §2.7.11). */
import { countDataObjs, decodeInodeHeader } from '../../shared/inode.js';
import { nodeAddrString } from '../../shared/node.js';
import { vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { VnodeRing } from '../../shared/placement.js';
import type { EpochLog } from '../../shared/proto/cluster-info.js';
import { requestEpochLogs } from '../../shared/epoch-logs.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { nodeJson } from '../../shared/report-text.js';
import { hexId, printJson } from '../json.js';
import { inodeIndex } from './inode-index.js';
import { readVdiObj } from './open.js';
import { INODE_WITH_INDEX } from './read.js';

const hex = (n: number | bigint): string => n.toString(16);
const RULE = '-'.repeat(51);

/**
 * The per-epoch sections. When an epoch had fewer nodes than copies, all its
 * nodes are listed and (the original's quirk) the walk does not advance, so the
 * same record is printed again for the next epoch.
 */
export function renderTrack(oid: bigint, copies: number, logs: readonly EpochLog[]): string {
  let s = '';
  let at = 0;
  for (let i = 0; i < logs.length; i++) {
    const log = logs[at]!;
    s += `\nobj ${hex(oid)} locations at epoch ${log.epoch}, copies = ${copies}\n${RULE}\n`;
    if (log.nodes.length < copies) {
      for (const n of log.nodes) s += `${nodeAddrString(n)}\n`;
      continue;
    }
    for (const n of new VnodeRing(log.nodes).holders(oid, copies)) s += `${nodeAddrString(n)}\n`;
    at++;
  }
  return s;
}

/** What `--format json` adds to the tracked object's ids (man/dog.8). */
interface Tracked {
  oid: bigint;
  vdiId: number;
  index?: number;
}

/**
 * The JSON form: each epoch once (no repeated record as in the text), with the
 * nodes that held the object then (every node when they were fewer than copies).
 */
export function trackJson(t: Tracked, nodes: number, copies: number, logs: readonly EpochLog[]): Record<string, unknown> {
  return {
    oid: hexId(t.oid), vdi_id: hexId(t.vdiId), index: t.index, nodes, copies,
    epochs: logs.map((log) => ({
      epoch: log.epoch,
      locations: (log.nodes.length < copies ? log.nodes : new VnodeRing(log.nodes).holders(t.oid, copies)).map(nodeJson),
    })),
  };
}

/** Largest member count an epoch log is asked for with (the buffer doubles up to it). */
const EPOCH_LOG_NODES_MAX = 1 << 16;

async function track(dog: Dog, t: Tracked, copies: number): Promise<number> {
  const oid = t.oid;
  const { reply: r, logs } = await requestEpochLogs((h) => dog.exec(h), {
    epochs: dog.epoch, firstNodes: dog.nodes.length, maxNodes: EPOCH_LOG_NODES_MAX,
  });
  if (!r) return EXIT.SYSFAIL;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    if (dog.json) err(resultText(r.hdr.result));
    else out(`${resultText(r.hdr.result)}\n`);
    return EXIT.SYSFAIL;
  }
  if (dog.json) printJson(trackJson(t, dog.nodes.length, copies, logs));
  else out(renderTrack(oid, copies, logs));
  return EXIT.SUCCESS;
}

/** A text line of the report; with --format json, only a failure is said (on stderr). */
function say(dog: Dog, line: string, failure = false): void {
  if (!dog.json) out(line);
  else if (failure) err(line.trimEnd());
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const o = dog.opts;
  const opened = await readVdiObj(dog, args[0]!, o.snapshotId, o.snapshotTag, INODE_WITH_INDEX);
  if (!opened) {
    err('FATAL: no inode objects');
    return EXIT.FAILURE;
  }
  const h = decodeInodeHeader(opened.inode);
  const n = dog.nodes.length;
  if (o.oid !== undefined && o.oid !== 0n) {
    say(dog, `Tracking the object 0x${hex(o.oid)} (the inode vid 0x${hex(h.vdiId)}) with ${n} nodes\n`);
    return track(dog, { oid: o.oid, vdiId: h.vdiId }, h.nrCopies);
  }
  if (o.index === undefined) {
    say(dog, `Tracking the inode object 0x${hex(h.vdiId)} with ${n} nodes\n`);
    return track(dog, { oid: vidToVdiOid(h.vdiId), vdiId: h.vdiId }, h.nrCopies);
  }
  if (o.index >= 2n ** 32n) {
    say(dog, 'The offset is too large!\n', true);
    return EXIT.FAILURE;
  }
  const idx = Number(o.index);
  const index = await inodeIndex(dog, opened.inode, h.storePolicy, countDataObjs(h));
  const oid = vidToDataOid(index?.vidAt(idx) ?? 0, idx);
  say(dog, `Tracking the object 0x${hex(oid)} (the inode vid 0x${hex(h.vdiId)} idx ${idx}) with ${n} nodes\n`);
  return track(dog, { oid, vdiId: h.vdiId, index: idx }, h.nrCopies);
}
