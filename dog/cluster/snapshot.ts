/**
 * dog cluster snapshot save|list|load|show (cli.md §2.5.5): whole-cluster
 * snapshots kept in a local directory in 1.0's farm format (farm.ts).
 *
 *  save <tag> <path> [vdi...]  every snapshot VDI (or those of the named VDIs):
 *                              its inode, data and vmstate objects
 *  list <path>                 the saved snapshots
 *  load <tag|idx> <path> [vdi...]  format the cluster as it was saved, write
 *                              the objects back, register their VDIs and start
 *                              a working VDI on top of each chain
 *  show <tag|idx> <path> [vdi...]  the VDIs a snapshot holds (stderr, as 1.0)
 */
import { ctime } from '../../shared/ctime.js';
import { decodeInodeHeader, isSnapshot, INODE_OFF, type InodeHeader } from '../../shared/inode.js';
import {
  isVdiObj, objectSize, oidToVid, SD_INODE_DATA_INDEX, SD_INODE_HEADER_SIZE, vidToDataOid, vidToVdiOid, vidToVmstateOid,
} from '../../shared/oid.js';
import { CLUSTER_INFO_HEADER_SIZE, decodeClusterInfo } from '../../shared/proto/cluster-info.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { HyperTree } from '../../shared/btree.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { readObject, writeObject } from '../object-io.js';
import { strtol10 } from '../option-values.js';
import { err, out } from '../output.js';
import { showProgress } from '../progress.js';
import { orderedWindow } from '../window.js';
import { newVdi } from '../vdi/create.js';
import { walkVdis } from '../vdi/walk.js';
import { Farm, FarmError, type TrunkEntry } from './farm.js';
import { run as formatCluster } from './format.js';

/** Objects read or written at once with -m (and always when loading, as 1.0's dynamic queue). */
const PARALLEL_OBJECTS = 8;

type Wanted = Omit<TrunkEntry, 'sha1'>;

/** fill_object_tree: the objects of every snapshot (of the named VDIs), in oid order. */
async function objectsToSave(dog: Dog, names: readonly string[]): Promise<{ objects: Wanted[]; snapshots: number } | undefined> {
  const byOid = new Map<bigint, Wanted>();
  let snapshots = 0;
  const add = (oid: bigint, h: InodeHeader): void => {
    if (!byOid.has(oid)) byOid.set(oid, { oid, copies: h.nrCopies, copyPolicy: h.copyPolicy, blockSizeShift: h.blockSizeShift });
  };
  const ok = await walkVdis(dog, true, ({ vid, header: h, index }) => {
    if (!isSnapshot(h) || (names.length > 0 && !names.includes(h.name))) return;
    if (h.name !== '') snapshots++;
    add(vidToVdiOid(vid), h);
    for (const [idx, owner] of index!.entries()) add(vidToDataOid(owner, idx), h);
    // a two-level hyper volume's leaf objects too (1.0 saved none: its farm of such a volume could not be loaded)
    if (index instanceof HyperTree) for (const oid of index.leafOids()) add(oid, h);
    const objSize = 2 ** h.blockSizeShift;
    const vmstate = Math.ceil(Number(h.vmStateSize) / objSize);
    for (let i = 0; i < vmstate; i++) add(vidToVmstateOid(vid, i), h);
  });
  if (!ok) return undefined;
  return { objects: [...byOid.values()].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0)), snapshots };
}

/** CLUSTER_INFO: the redundancy and object size the farm header records. */
async function clusterDefaults(dog: Dog): Promise<{ copies: number; copyPolicy: number; blockSizeShift: number } | undefined> {
  const r = await dog.exec(SdHeader.request(SD_OP.CLUSTER_INFO, 0, CLUSTER_INFO_HEADER_SIZE));
  if (!r) {
    err('Fail to execute request');
    return undefined;
  }
  if (r.hdr.result !== SD_RES.SUCCESS || r.data.length < CLUSTER_INFO_HEADER_SIZE) {
    err(resultText(r.hdr.result));
    return undefined;
  }
  const ci = decodeClusterInfo(r.data);
  return { copies: ci.nrCopies, copyPolicy: ci.copyPolicy, blockSizeShift: ci.blockSizeShift };
}

async function saveObjects(dog: Dog, farm: Farm, objects: readonly Wanted[]): Promise<TrunkEntry[] | undefined> {
  const entries: TrunkEntry[] = [];
  const one = async (w: Wanted): Promise<TrunkEntry | undefined> => {
    const r = await readObject(dog, w.oid, objectSize(w.oid, w.blockSizeShift), 0, true);
    if (r.result !== SD_RES.SUCCESS) return undefined;
    return { ...w, sha1: farm.writeObject(r.data) };
  };
  for await (const e of orderedWindow(objects, dog.opts.multithread ? PARALLEL_OBJECTS : 1, one)) {
    if (!e) return undefined;
    entries.push(e);
    showProgress(entries.length, objects.length, true);
  }
  return entries;
}

async function farmed<T>(work: () => Promise<T>, failure: T): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof FarmError) return failure;
    throw e;
  }
}

export const save = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const [tag, path, ...names] = args;
    if (strtol10(tag!) !== undefined) {
      err('Tag should not start with number.');
      return EXIT.USAGE;
    }
    if (path === undefined) {
      err('Please specify the path to save snapshot.');
      return EXIT.USAGE;
    }
    const ret = await farmed(async () => {
      const farm = Farm.open(path);
      if (farm.findTrunk(0, tag!)) {
        err('Snapshot tag has already been used for another snapshot, please, use another one.');
        return EXIT.SYSFAIL;
      }
      const found = await objectsToSave(dog, names);
      if (!found) return EXIT.SYSFAIL;
      if (found.snapshots === 0) {
        err('Cannot execute. It may be caused by:');
        if (names.length > 0) {
          err('1. The specified VDIs are not found.');
          err("2. The specified VDIs don't have snapshots.");
        } else {
          err('1. The cluster is empty.');
          err("2. All VDIs of the cluster don't have snapshots.");
        }
        return EXIT.SYSFAIL;
      }
      const logs = farm.readLogs();
      if (logs.length === 0) {
        const defaults = await clusterDefaults(dog);
        if (!defaults) return EXIT.SYSFAIL;
        farm.writeHeader(defaults);
      }
      const entries = await saveObjects(dog, farm, found.objects);
      if (!entries) {
        err('Fail to save object');
        return EXIT.SYSFAIL;
      }
      farm.appendLog(logs.length + 1, tag!, farm.writeTrunk(entries));
      return EXIT.SUCCESS;
    }, EXIT.SYSFAIL);
    if (ret !== EXIT.SUCCESS) err(`Fail to save snapshot to path: ${path}.`);
    return ret;
  },
};

export const list = {
  async run(_dog: Dog, args: string[]): Promise<number> {
    const ret = await farmed(async () => {
      const logs = Farm.open(args[0]!).readLogs();
      out('Index\t\tTag\t\tSnapshot Time\n');
      for (const l of logs) out(`${l.idx}\t\t${l.tag}\t\t${ctime(l.time)}`);
      return EXIT.SUCCESS;
    }, EXIT.SYSFAIL);
    if (ret !== EXIT.SUCCESS) err('Fail to list snapshot.');
    return ret;
  },
};

/** `<tag|idx>`: a leading number selects by index too (strtol), the whole text by tag. */
function selector(arg: string): { idx: number; tag: string } {
  return { idx: strtol10(arg)?.value ?? 0, tag: arg };
}

/** The inodes a trunk holds, in trunk order. */
function inodesOf(farm: Farm, entries: readonly TrunkEntry[]): { entry: TrunkEntry; inode: Buffer; h: InodeHeader }[] {
  return entries.filter((e) => isVdiObj(e.oid)).map((entry) => {
    const inode = farm.readObject(entry.sha1);
    return { entry, inode, h: decodeInodeHeader(inode) };
  });
}

async function notifyVdiAdd(dog: Dog, e: TrunkEntry): Promise<boolean> {
  const h = SdHeader.request(SD_OP.NOTIFY_VDI_ADD);
  h.stateNewVid = oidToVid(e.oid);
  h.stateCopies = e.copies;
  h.stateCopyPolicy = e.copyPolicy;
  h.stateBlockSizeShift = e.blockSizeShift;
  h.stateSetBitmap = 1;
  const r = await dog.exec(h);
  if (!r) {
    err(`Fail to notify vdi add event(${oidToVid(e.oid).toString(16)}, ${e.copies}, ${e.blockSizeShift})`);
    return false;
  }
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(resultText(r.hdr.result));
    return false;
  }
  return true;
}

async function loadSnapshot(dog: Dog, farm: Farm, trunk: Buffer, names: readonly string[]): Promise<boolean> {
  const entries = farm.readTrunk(trunk);
  // with names: their objects only (the inode and its data objects, as 1.0), deleted VDIs' too
  let wanted: Set<bigint> | undefined;
  if (names.length > 0) {
    wanted = new Set();
    for (const { h, inode } of inodesOf(farm, entries)) {
      if (h.name !== '' && !names.includes(h.name)) continue;
      wanted.add(vidToVdiOid(h.vdiId));
      const slots = Math.min(SD_INODE_DATA_INDEX, Math.floor((inode.length - SD_INODE_HEADER_SIZE) / 4));
      for (let i = 0; i < slots; i++) {
        const vid = inode.readUInt32LE(SD_INODE_HEADER_SIZE + 4 * i);
        if (vid) wanted.add(vidToDataOid(vid, i));
      }
    }
    if (wanted.size === 0) {
      err('Objects of specified VDIs are not found in local cluster snapshot storage.');
      return false;
    }
  }
  const todo = entries.filter((e) => !wanted || wanted.has(e.oid));
  const registered = new Set<number>();
  /** the newest snapshot of each name: a working VDI grows on it */
  const active = new Map<string, InodeHeader & { size: bigint }>();
  let loaded = 0;
  const one = async (e: TrunkEntry): Promise<boolean> => {
    const data = farm.readObject(e.sha1);
    const vid = oidToVid(e.oid);
    if (!registered.has(vid)) {
      registered.add(vid);
      if (!(await notifyVdiAdd(dog, e))) return false;
    }
    const w = await writeObject(dog, {
      oid: e.oid, data, offset: 0, copies: e.copies, copyPolicy: e.copyPolicy, create: true, direct: true,
    });
    if (w !== SD_RES.SUCCESS) return false;
    if (isVdiObj(e.oid)) {
      const h = decodeInodeHeader(data);
      const cur = active.get(h.name);
      if (!cur || cur.snapId < h.snapId) active.set(h.name, { ...h, size: data.readBigUInt64LE(INODE_OFF.vdiSize) });
    }
    return true;
  };
  for await (const ok of orderedWindow(todo, PARALLEL_OBJECTS, one)) {
    if (!ok) return false;
    showProgress(++loaded, todo.length, true);
  }
  for (const [name, h] of [...active].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name === '') continue;
    const c = await newVdi(dog, {
      name, size: h.size, baseVid: h.vdiId, snapshot: false, copies: h.nrCopies, copyPolicy: h.copyPolicy,
      storePolicy: h.storePolicy, blockSizeShift: h.blockSizeShift,
    });
    if (c.code !== EXIT.SUCCESS) return false;
  }
  return true;
}

/** The farm at path and the trunk of the snapshot `<tag|idx>` names; an exit status when it is not there. */
function savedSnapshot(arg: string, path: string): { farm: Farm; trunk: Buffer } | number {
  const farm = Farm.open(path);
  const { idx, tag } = selector(arg);
  const trunk = farm.findTrunk(idx, tag);
  if (!trunk) {
    err('Snapshot index or tag does not exist.');
    return EXIT.SYSFAIL;
  }
  return { farm, trunk };
}

export const load = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const [arg, path, ...names] = args;
    if (path === undefined) {
      err('Please specify the path to save snapshot.');
      return EXIT.USAGE;
    }
    const ret = await farmed(async () => {
      const saved = savedSnapshot(arg!, path);
      if (typeof saved === 'number') return saved;
      const { farm, trunk } = saved;
      const hdr = farm.readHeader();
      if (!hdr) return EXIT.SYSFAIL;
      dog.opts.copies = hdr.copies;
      dog.opts.copyPolicy = hdr.copyPolicy;
      dog.opts.blockSizeShift = hdr.blockSizeShift;
      if ((await formatCluster(dog)) !== EXIT.SUCCESS) return EXIT.SYSFAIL;
      return (await loadSnapshot(dog, farm, trunk, names)) ? EXIT.SUCCESS : EXIT.SYSFAIL;
    }, EXIT.SYSFAIL);
    if (ret !== EXIT.SUCCESS) err('Fail to load snapshot');
    return ret;
  },
};

export const show = {
  async run(_dog: Dog, args: string[]): Promise<number> {
    const [arg, path, ...names] = args;
    if (path === undefined) {
      err('Please specify the path to show snapshot.');
      return EXIT.USAGE;
    }
    const ret = await farmed(async () => {
      const saved = savedSnapshot(arg!, path);
      if (typeof saved === 'number') return saved;
      const { farm, trunk } = saved;
      let seq = 0;
      try {
        for (const { h } of inodesOf(farm, farm.readTrunk(trunk))) {
          if (names.length > 0 ? names.includes(h.name) : true) {
            err(`${++seq}. VDI id: ${h.vdiId.toString(16)}, name: ${h.name}, tag: ${h.tag}`);
          }
        }
      } catch (e) {
        if (e instanceof FarmError) err('Fail to show snapshot.');
        throw e;
      }
      return EXIT.SUCCESS;
    }, EXIT.SYSFAIL);
    if (ret !== EXIT.SUCCESS) err('Fail to show snapshot');
    return ret;
  },
};
