/**
 * Which VDIs the cluster has: the in-use and deleted bitmaps, then every live
 * VDI's inode header (as dog's vdi list walks them). A listing is shared by
 * every caller for `maxAgeMs`, so that `ls -l vdi` and the lookups that follow
 * it cost one walk, and VDIs created or deleted elsewhere show up within that.
 */
import { countDataObjs, decodeInodeHeader, INODE_LIST_READ, INODE_OFF, isSnapshot, type InodeHeader } from '../shared/inode.js';
import { SD_INODE_HEADER_SIZE, SD_NR_VDIS, vidToVdiOid } from '../shared/oid.js';
import { SdHeader } from '../shared/proto/header.js';
import { SD_OP } from '../shared/proto/opcodes.js';
import type { SheepLink } from './link.js';
import { readObject } from '../shared/object-io.js';

const BITMAP_SIZE = SD_NR_VDIS / 8;
/** Header reads in flight during a walk. */
const WALK_WINDOW = 16;
/** How long one listing is reused. */
export const CATALOGUE_MAX_AGE_MS = 1_000;

export interface VdiEntry {
  vid: number;
  header: InodeHeader;
  /** exact size (header.vdiSize is a double) */
  vdiSize: bigint;
}

export interface Listing {
  at: number;
  all: VdiEntry[];
  /** name -> the working (writable) VDI of that name */
  working: Map<string, VdiEntry>;
  /** name -> its snapshots, oldest first */
  snapshots: Map<string, VdiEntry[]>;
}

function* liveVids(inUse: Buffer, deleted: Buffer): Generator<number> {
  for (let w = 0; w + 4 <= inUse.length; w += 4) {
    let bits = inUse.readUInt32LE(w);
    if (bits === 0) continue;
    if (deleted.length >= w + 4) bits &= ~deleted.readUInt32LE(w);
    for (let b = 0; bits !== 0 && b < 32; b++) {
      if (bits & (1 << b)) {
        yield (w / 4) * 32 + b;
        bits &= ~(1 << b);
      }
    }
  }
}

export class Catalogue {
  private current: Promise<Listing> | undefined;
  private currentAt = 0;

  constructor(private readonly link: SheepLink) {}

  /** Forget the cached listing (after sheepfs itself changed something). */
  invalidate(): void {
    this.current = undefined;
  }

  listing(maxAgeMs = CATALOGUE_MAX_AGE_MS): Promise<Listing> {
    if (this.current && Date.now() - this.currentAt <= maxAgeMs) return this.current;
    this.currentAt = Date.now();
    const p = this.walk();
    this.current = p;
    p.catch(() => { if (this.current === p) this.current = undefined; });
    return p;
  }

  private async bitmap(opcode: number): Promise<Buffer> {
    const r = await this.link.call(SdHeader.request(opcode, 0, BITMAP_SIZE));
    return r.data;
  }

  private async walk(): Promise<Listing> {
    const [inUse, deleted] = await Promise.all([this.bitmap(SD_OP.READ_VDIS), this.bitmap(SD_OP.READ_DEL_VDIS)]);
    const vids = [...liveVids(inUse, deleted)];
    const all: VdiEntry[] = [];
    for (let i = 0; i < vids.length; i += WALK_WINDOW) {
      const got = await Promise.all(vids.slice(i, i + WALK_WINDOW).map(async (vid) => {
        const raw = await readObject(this.link, vidToVdiOid(vid), INODE_LIST_READ, 0);
        const header = decodeInodeHeader(raw);
        if (header.name === '') return undefined;
        return { vid, header, vdiSize: raw.readBigUInt64LE(INODE_OFF.vdiSize) };
      }));
      for (const e of got) if (e) all.push(e);
    }
    const working = new Map<string, VdiEntry>();
    const snapshots = new Map<string, VdiEntry[]>();
    for (const e of all) {
      if (isSnapshot(e.header)) {
        const list = snapshots.get(e.header.name) ?? [];
        list.push(e);
        snapshots.set(e.header.name, list);
      } else {
        working.set(e.header.name, e); // a name has one VDI that is not a snapshot
      }
    }
    return { at: Date.now(), all, working, snapshots };
  }
}

/** The index slots of a VDI (u32 owner vid per object), read from its inode. */
export async function readIndex(link: SheepLink, vid: number, h: InodeHeader): Promise<Uint32Array> {
  const count = countDataObjs(h);
  const out = new Uint32Array(count);
  if (count === 0) return out;
  const raw = await readObject(link, vidToVdiOid(vid), count * 4, SD_INODE_HEADER_SIZE);
  for (let i = 0; i < count; i++) out[i] = raw.readUInt32LE(4 * i);
  return out;
}

/** Objects owned by the VDI itself, and those still shared with ancestors. */
export function countOwn(index: Uint32Array, vid: number): { own: number; shared: number } {
  let own = 0, shared = 0;
  for (const v of index) {
    if (v === 0) continue;
    if (v === vid) own++;
    else shared++;
  }
  return { own, shared };
}
