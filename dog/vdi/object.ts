/**
 * dog vdi object location|map|dump-inode (cli.md §2.7.10): where an object
 * is, which VDI owns each data object, and a local inode file's fields.
 * Object ids print as 1.0 prints them: `0x` and plain hex.
 */
import { readFileSync } from 'node:fs';
import { countDataObjs, decodeInodeHeader, readGref } from '../../shared/inode.js';
import { nodeAddrString, type SdNode } from '../../shared/node.js';
import { SD_INODE_HEADER_SIZE, SD_INODE_DATA_INDEX, vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { VnodeRing } from '../../shared/placement.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { strerror } from '../errno.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { hexId, printJson } from '../json.js';
import { nodeJson } from '../../shared/report-text.js';
import { inodeIndex, type InodeIndex } from './inode-index.js';
import { readVdiObj } from './open.js';
import { INODE_WITH_INDEX } from './read.js';

const hex = (n: number | bigint): string => n.toString(16);
const MAX_DATA_OBJS = 2n ** 32n;

async function openWithIndex(dog: Dog, name: string): Promise<{ vid: number; inode: Buffer; index: InodeIndex } | undefined> {
  const o = dog.opts;
  const opened = await readVdiObj(dog, name, o.snapshotId, o.snapshotTag, INODE_WITH_INDEX);
  if (!opened) return undefined;
  const h = decodeInodeHeader(opened.inode);
  const index = await inodeIndex(dog, opened.inode, h.storePolicy, countDataObjs(h));
  return index ? { ...opened, index } : undefined;
}

/** The expected holders, or the "every node" sentence when nodes are fewer than copies. */
export function expectedLocation(nodes: readonly SdNode[], oid: bigint, copies: number): string {
  if (nodes.length < copies) {
    return `\nBecause number of nodes (${nodes.length}) is less than number of copies (${copies}), ` +
      'the object should be located at every nodes.\n';
  }
  const holders = new VnodeRing(nodes).holders(oid, copies);
  return '\nAccording to sheepdog algorithm, the object should be located at:\n' +
    holders.map(nodeAddrString).join(' ') + '\n';
}

interface HolderAnswer {
  /** undefined: the node could not say */
  has?: boolean;
  /** why it could not (for stderr) */
  error?: string;
}

/** Ask every node whether it has the object (EXIST), in node order. */
async function askHolders(dog: Dog, oid: bigint): Promise<HolderAnswer[]> {
  const replies = await Promise.all(dog.nodes.map((n) => {
    const h = SdHeader.request(SD_OP.EXIST);
    h.epoch = dog.epoch;
    h.objOid = oid;
    return dog.exec(h, undefined, dog.nodeTarget(n));
  }));
  return replies.map((r, i) => {
    if (!r) return {};
    switch (r.hdr.result) {
      case SD_RES.SUCCESS: return { has: true };
      case SD_RES.NO_OBJ: return { has: false };
      case SD_RES.OLD_NODE_VER:
      case SD_RES.NEW_NODE_VER: return { error: 'The node list has changed: please try again' };
      default: return { error: `${nodeAddrString(dog.nodes[i]!)}: hit an unexpected error (${resultText(r.hdr.result)})` };
    }
  });
}

/** The text or JSON report of where an object is and where it should be. */
async function reportLocation(dog: Dog, heading: string, ids: Record<string, unknown>, oid: bigint, copies: number): Promise<void> {
  if (!dog.json) out(heading);
  const answers = await askHolders(dog, oid);
  if (dog.json) {
    for (const a of answers) if (a.error) err(a.error);
    const everyNode = dog.nodes.length < copies;
    const expected = everyNode ? dog.nodes : new VnodeRing(dog.nodes).holders(oid, copies);
    printJson({
      ...ids, oid: hexId(oid), allocated: true, copies, nodes: dog.nodes.length,
      holders: dog.nodes.map((n, i) => ({ ...nodeJson(n), has_object: answers[i]!.has ?? null })),
      expected: expected.map(nodeJson), every_node: everyNode,
    });
    return;
  }
  answers.forEach((a, i) => {
    if (a.error) err(a.error);
    else if (a.has !== undefined) out(`${nodeAddrString(dog.nodes[i]!)} ${a.has ? 'has' : "doesn't have"} the object\n`);
  });
  out(expectedLocation(dog.nodes, oid, copies));
}

export const location = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const v = await openWithIndex(dog, args[0]!);
    if (!v) {
      err('FATAL: no inode objects');
      return EXIT.FAILURE;
    }
    const h = decodeInodeHeader(v.inode);
    const idx = dog.opts.index;
    if (idx === undefined) {
      const heading = `Looking for the inode object 0x${hex(h.vdiId)} with ${dog.nodes.length} nodes\n\n`;
      await reportLocation(dog, heading, { vdi_id: hexId(h.vdiId) }, vidToVdiOid(h.vdiId), h.nrCopies);
      return EXIT.SUCCESS;
    }
    if (idx >= MAX_DATA_OBJS) {
      if (dog.json) err('The offset is too large!');
      else out('The offset is too large!\n');
      return EXIT.FAILURE;
    }
    const owner = v.index.vidAt(Number(idx));
    const ids = { vdi_id: hexId(h.vdiId), index: Number(idx) };
    if (owner === 0) {
      if (dog.json) printJson({ ...ids, allocated: false });
      else out(`The inode object 0x${hex(h.vdiId)} idx ${idx} is not allocated\n`);
      return EXIT.SUCCESS;
    }
    const oid = vidToDataOid(owner, Number(idx));
    const heading = `Looking for the object 0x${hex(oid)} (vid 0x${hex(h.vdiId)} idx ${idx}, ${h.nrCopies} copies) with ${dog.nodes.length} nodes\n\n`;
    await reportLocation(dog, heading, ids, oid, h.nrCopies);
    return EXIT.SUCCESS;
  },
};

export const map = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const v = await openWithIndex(dog, args[0]!);
    if (!v) {
      err(`FATAL: ${args[0]} not found`);
      return EXIT.FAILURE;
    }
    const row = (i: bigint, vid: number): string => `${String(i).padStart(8, '0')} ${hex(vid).padStart(8)}\n`;
    out('Index       VID\n');
    const idx = dog.opts.index;
    if (idx !== undefined) {
      out(row(idx, idx < MAX_DATA_OBJS ? v.index.vidAt(Number(idx)) : 0));
    } else {
      for (const [i, vid] of v.index.entries()) out(row(BigInt(i), vid));
    }
    return EXIT.SUCCESS;
  },
};

/** The fields of an inode as dump-inode prints them. */
export function renderInodeDump(buf: Buffer): string {
  const h = decodeInodeHeader(buf);
  let s = `name: ${h.name}\ntag: ${h.tag}\n` +
    `create_time: ${hex(h.createTime)}\nsnap_ctime: ${hex(h.snapCtime)}\nvm_clock_nsec: ${hex(h.vmClockNsec)}\n` +
    `vdi_size: ${buf.readBigUInt64LE(536)}\nvm_state_size: ${h.vmStateSize}\n` +
    `copy_policy: ${h.copyPolicy}\nstore_policy: ${h.storePolicy}\nnr_copies: ${h.nrCopies}\n` +
    `block_size_shift: ${h.blockSizeShift}\nsnap_id: ${h.snapId}\nvdi_id: ${hex(h.vdiId)}\n` +
    `parent_vdi_id: ${hex(h.parentVdiId)}\nbtree_counter: ${h.btreeCounter}\n`;
  const slots = Math.min(SD_INODE_DATA_INDEX, Math.floor((buf.length - SD_INODE_HEADER_SIZE) / 4));
  s += 'data_vdi_id:\n';
  for (let i = 0; i < slots; i++) {
    const vid = buf.readUInt32LE(SD_INODE_HEADER_SIZE + 4 * i);
    if (vid) s += `${i}: ${hex(vid)}\n`;
  }
  s += 'gref:\n';
  for (let i = 0; i < slots; i++) {
    if (SD_INODE_HEADER_SIZE + 4 * SD_INODE_DATA_INDEX + 8 * i + 8 > buf.length) break;
    const vid = buf.readUInt32LE(SD_INODE_HEADER_SIZE + 4 * i);
    const g = readGref(buf, i);
    if (vid) s += `${i}: ${hex(vid)}, ${g.generation}, ${g.count}\n`;
    else if (g.generation || g.count) {
      s += `WARNING: index ${i} doesn't have data vdi ID but its generation and count is not zero(${g.generation}, ${g.count})`;
    }
  }
  return s;
}

export const dumpInode = {
  async run(_dog: Dog, args: string[]): Promise<number> {
    let buf: Buffer;
    try {
      buf = readFileSync(args[0]!);
    } catch (e) {
      err(`failed to open inode object file: ${strerror(e)}`);
      return EXIT.FAILURE;
    }
    if (buf.length < SD_INODE_HEADER_SIZE) {
      err('failed to read inode object file: Success');
      return EXIT.FAILURE;
    }
    out(renderInodeDump(buf));
    return EXIT.SUCCESS;
  },
};
