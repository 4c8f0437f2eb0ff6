/**
 * What the NBD server exports: every VDI by name, its snapshots as `name:tag`
 * or `name@snapid` (read-only). All I/O goes through this sheep's server
 * exactly as a client's requests would (admission, gateway, object cache,
 * request counters): the sheep is the gateway, as it was for QEMU's driver.
 *
 * A VDI attached for writing takes the VDI lock (LOCK_VDI, as QEMU's driver
 * did) when its first connection attaches and releases it (RELEASE_VDI) when
 * its last one goes. All connections to one VDI share one volume: one index
 * cache and one serialisation of object creations, which is what makes
 * several connections to the same export safe (NBD_FLAG_CAN_MULTI_CONN).
 */
import { SdError } from '../../shared/errors.js';
import { decodeInodeHeader } from '../../shared/inode.js';
import { readObject, type Gatewayed } from '../../shared/object-io.js';
import { SD_INODE_HEADER_SIZE, SD_MAX_VDI_LEN, vidToVdiOid } from '../../shared/oid.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { cField } from '../../shared/proto/vdi-name.js';
import { FollowedVdi, lookupVid, VdiVolume } from '../../shared/vdi-volume.js';
import type { Logger } from '../log.js';
import type { Server } from '../server.js';
import type { ObjectCache } from '../store/object-cache.js';
import type { VdiTable } from '../vdi-table.js';

/** What the NBD export is given: requests as a client of this sheep, the VDI table, the cache. */
export interface NbdDeps {
  readonly log: Logger;
  readonly server: Pick<Server, 'execute'>;
  readonly vdis: Pick<VdiTable, 'get' | 'all'>;
  readonly cache: ObjectCache | undefined;
}

/** Times an attach races with the release of the same export before it gives up. */
const ATTACH_ATTEMPTS = 3;
/** Most exports NBD_OPT_LIST names (current VDIs and snapshots). */
const LIST_MAX_EXPORTS = 4096;

/** A resolved export name. */
export interface ExportTarget {
  vid: number;
  readOnly: boolean;
  /** the VDI's name (without the snapshot part) */
  vdiName: string;
}

/**
 * The volume every connection to one export shares. A writable export's
 * volume follows the VDI's name to its new working vid after a snapshot.
 */
export class ExportHandle {
  refs = 0;

  constructor(readonly key: string, readonly target: ExportTarget, readonly vdi: FollowedVdi, readonly lockedVid: number | undefined) {}

  get volume(): VdiVolume {
    return this.vdi.volume;
  }
}

/** Split `name@snapid` / `name:tag`; undefined when the name has neither. */
export function parseSnapshotName(exportName: string): { name: string; snapid: number; tag: string | null } | undefined {
  const at = /^(.+)@(\d+)$/.exec(exportName);
  if (at && Number(at[2]) > 0 && Number(at[2]) <= 0xffffffff) return { name: at[1]!, snapid: Number(at[2]), tag: null };
  const colon = exportName.lastIndexOf(':');
  if (colon > 0 && colon < exportName.length - 1) {
    return { name: exportName.slice(0, colon), snapid: 0, tag: exportName.slice(colon + 1) };
  }
  return undefined;
}

export class NbdExports {
  private readonly attached = new Map<string, Promise<ExportHandle>>();
  /** releases under way (flush, unlock): a new attach of the export waits for them */
  private readonly releasing = new Map<string, Promise<void>>();
  /** requests as if from a client of this sheep */
  readonly gateway: Gatewayed;

  constructor(private readonly s: NbdDeps) {
    this.gateway = {
      request: async (req, payload) => {
        const r = await s.server.execute(req, payload);
        return { hdr: r.hdr, data: r.data ?? Buffer.alloc(0) };
      },
    };
  }

  private lookup(name: string, snapid: number, tag: string | null): Promise<number> {
    return lookupVid(this.gateway, name, snapid, tag);
  }

  /** The VDI an export name means: the name itself, else a snapshot of `name:tag` / `name@snapid`. */
  async resolve(exportName: string): Promise<ExportTarget> {
    if (exportName === '') throw new SdError(SD_RES.NO_VDI, 'an export name (the VDI name) is required');
    try {
      return { vid: await this.lookup(exportName, 0, null), readOnly: false, vdiName: exportName };
    } catch (e) {
      const snap = parseSnapshotName(exportName);
      if (!snap || !(e instanceof SdError) || e.code !== SD_RES.NO_VDI) throw e;
      return { vid: await this.lookup(snap.name, snap.snapid, snap.tag), readOnly: true, vdiName: snap.name };
    }
  }

  /** A fresh volume of the target (for NBD_OPT_INFO: no lock, nothing kept). */
  async describe(t: ExportTarget): Promise<VdiVolume> {
    const v = new VdiVolume(this.gateway, t.vid, t.readOnly, { cache: this.s.cache !== undefined });
    await v.refresh();
    return v;
  }

  /** Writable exports share by VDI name (the working vid changes with snapshots), snapshots by vid. */
  private static key(t: ExportTarget): string {
    return t.readOnly ? `snapshot ${t.vid}` : `vdi ${t.vdiName}`;
  }

  /** Attach a connection to the target: the shared volume, locked for writing on first attach. */
  async attach(t: ExportTarget): Promise<ExportHandle> {
    const key = NbdExports.key(t);
    for (let attempt = 1; ; attempt++) {
      let p = this.attached.get(key);
      if (!p) {
        p = this.open(key, t);
        this.attached.set(key, p);
        p.catch(() => { if (this.attached.get(key) === p) this.attached.delete(key); });
      }
      const h = await p;
      // the last connection may have released it while we waited: open it again
      if (this.attached.get(key) === p) {
        h.refs++;
        return h;
      }
      if (attempt >= ATTACH_ATTEMPTS) throw new SdError(SD_RES.AGAIN, `${t.vdiName} keeps being released`);
    }
  }

  private async open(key: string, t: ExportTarget): Promise<ExportHandle> {
    await this.releasing.get(key);
    let locked: number | undefined;
    if (!t.readOnly) {
      const h = SdHeader.request(SD_OP.LOCK_VDI, SD_FLAG.CMD_WRITE, SD_MAX_VDI_LEN);
      h.vdiType = 0; // a normal (exclusive) lock, as QEMU took for a writable open
      const r = await this.gateway.request(h, cField(t.vdiName, SD_MAX_VDI_LEN));
      if (r.hdr.result !== SD_RES.SUCCESS) throw new SdError(r.hdr.result, `cannot lock VDI ${t.vdiName}`);
      locked = r.hdr.rspVdiId;
    }
    const make = (vid: number): VdiVolume => new VdiVolume(this.gateway, vid, t.readOnly, { cache: this.s.cache !== undefined });
    const volume = make(locked ?? t.vid);
    try {
      await volume.refresh();
    } catch (e) {
      if (locked !== undefined) await this.unlock(locked);
      throw e;
    }
    const moved = (vid: number): void => {
      this.s.log.info('nbd', `${t.vdiName}: now VDI ${vid.toString(16)} (a snapshot was taken)`);
    };
    return new ExportHandle(key, t, new FollowedVdi(this.gateway, t.vdiName, volume, make, moved), locked);
  }

  /** Has a snapshot turned the volume's vid into a snapshot (the VDI works on a new vid)? */
  superseded(h: ExportHandle): boolean {
    return !h.target.readOnly && this.s.vdis.get(h.volume.vid)?.snapshot === true;
  }

  /** A connection is done with the export: the last one flushes and releases the lock. */
  async detach(h: ExportHandle): Promise<void> {
    if (--h.refs > 0) return;
    this.attached.delete(h.key); // nothing replaces the entry while a connection holds it
    const release = (async () => {
      await h.volume.flush();
      if (h.lockedVid !== undefined) await this.unlock(h.lockedVid);
    })();
    const settled = release.catch(() => {});
    this.releasing.set(h.key, settled);
    try {
      await release;
    } finally {
      if (this.releasing.get(h.key) === settled) this.releasing.delete(h.key);
    }
  }

  private async unlock(vid: number): Promise<void> {
    const h = SdHeader.request(SD_OP.RELEASE_VDI);
    h.vdiBaseVid = vid;
    h.vdiType = 0;
    const r = await this.gateway.request(h);
    if (r.hdr.result !== SD_RES.SUCCESS) {
      this.s.log.warn('nbd', `releasing the lock of VDI ${vid.toString(16)} failed: result ${r.hdr.result}`);
    }
  }

  /** Export names: every current VDI, and each snapshot as name@snapid. */
  async list(): Promise<string[]> {
    const names: string[] = [];
    for (const st of this.s.vdis.all()) {
      if (names.length >= LIST_MAX_EXPORTS) break;
      if (st.deleted) continue;
      let h;
      try {
        h = decodeInodeHeader(await readObject(this.gateway, vidToVdiOid(st.vid), SD_INODE_HEADER_SIZE, 0));
      } catch (e) {
        if (e instanceof SdError) continue; // gone or unreadable now: not listed
        throw e;
      }
      if (h.name === '') continue;
      names.push(h.snapCtime !== 0n ? `${h.name}@${h.snapId}` : h.name);
    }
    return names;
  }
}
