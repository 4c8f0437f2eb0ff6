import { assert } from '../shared/errors.js';
import { SD_NR_VDIS } from '../shared/oid.js';
import { SD_RES } from '../shared/proto/results.js';
import { SdError } from '../shared/errors.js';
import { LOCK_STATE, SHARED_LOCK_STATE, type LockHolder, type VdiState } from '../shared/proto/vdi-state.js';
import type { MetaStore } from './meta.js';

const BITMAP_BYTES = SD_NR_VDIS / 8;

/** What a VDI needs for placement and access checks, known on every sheep. */
export interface VdiInfo {
  nrCopies: number;
  copyPolicy: number;
  blockSizeShift: number;
  snapshot: boolean;
  deleted: boolean;
  parentVid: number;
}

/**
 * The in-use and deleted VDI bitmaps and the per-VDI state, identical on every
 * sheep: changed only by cluster-ordered main parts (and merged at join), and
 * kept in the metadata store so a restarted sheep knows them at once.
 */
export class VdiTable {
  readonly inuse = Buffer.alloc(BITMAP_BYTES);
  readonly deleted = Buffer.alloc(BITMAP_BYTES);
  private readonly states = new Map<number, VdiState>();

  constructor(private readonly meta: MetaStore | undefined) {}

  async load(): Promise<void> {
    if (!this.meta) return;
    // locks live in memory only: a restarted sheep starts with every VDI unlocked
    for (const s of await this.meta.loadVdiStates()) this.put({ ...s, lockState: LOCK_STATE.UNLOCKED, lockOwner: null, participants: [] });
  }

  private put(s: VdiState): void {
    assert(s.vid > 0 && s.vid < SD_NR_VDIS, `vid ${s.vid} is 24-bit and non-zero`);
    this.states.set(s.vid, s);
    this.setBit(this.inuse, s.vid);
    if (s.deleted) this.setBit(this.deleted, s.vid);
  }

  private setBit(map: Buffer, vid: number): void {
    map[vid >>> 3]! |= 1 << (vid & 7);
  }

  static testBit(map: Buffer, vid: number): boolean {
    return (map[vid >>> 3]! & (1 << (vid & 7))) !== 0;
  }

  isInuse(vid: number): boolean {
    return VdiTable.testBit(this.inuse, vid);
  }

  isDeleted(vid: number): boolean {
    return VdiTable.testBit(this.deleted, vid);
  }

  get(vid: number): VdiInfo | undefined {
    return this.states.get(vid);
  }

  /** States in ascending vid order (GET_VDI_COPIES). */
  all(): VdiState[] {
    return [...this.states.values()].sort((a, b) => a.vid - b.vid);
  }

  get size(): number {
    return this.states.size;
  }

  private async persist(...changed: VdiState[]): Promise<void> {
    await this.meta?.putVdiStates(changed);
  }

  /** NOTIFY_VDI_ADD main part. */
  async add(newVid: number, info: Omit<VdiInfo, 'snapshot' | 'deleted'>, oldVid: number, setBitmap: boolean): Promise<void> {
    const changed: VdiState[] = [];
    if (oldVid !== 0) {
      const old = this.states.get(oldVid);
      if (old) {
        old.snapshot = true;
        changed.push(old);
      }
    }
    const s: VdiState = {
      vid: newVid, nrCopies: info.nrCopies, snapshot: false, deleted: false, copyPolicy: info.copyPolicy,
      blockSizeShift: info.blockSizeShift, parentVid: info.parentVid, lockState: LOCK_STATE.UNLOCKED,
      lockOwner: null, participants: [],
    };
    this.states.set(newVid, s);
    // a state whose vid is not taken yet (NEW_VDI announces it before writing the
    // inode) is kept when markInuse takes the vid: a failed create leaves no trace
    // after a restart, as in the original, which rebuilds its states from inodes
    if (setBitmap) {
      this.setBit(this.inuse, newVid);
      changed.push(s);
    }
    await this.persist(...changed);
  }

  /** NEW_VDI main part: the vid is taken. */
  async markInuse(vid: number): Promise<void> {
    this.setBit(this.inuse, vid);
    const s = this.states.get(vid);
    if (s) await this.persist(s);
  }

  async markDeleted(vid: number): Promise<void> {
    this.setBit(this.deleted, vid);
    const s = this.states.get(vid);
    if (s) {
      s.deleted = true;
      await this.persist(s);
    }
  }

  /**
   * VID recycling (format -R): when every VDI of `vid`'s family (the tree of
   * snapshots and clones under the root its parent links lead to) is deleted,
   * the family's vids; otherwise none.
   */
  deletedFamily(vid: number): number[] {
    let root = vid;
    for (let p = this.states.get(root)?.parentVid ?? 0; p !== 0 && this.states.has(p) && p !== vid; p = this.states.get(p)!.parentVid) {
      root = p;
    }
    const family = [root];
    for (let i = 0; i < family.length; i++) {
      for (const st of this.states.values()) if (st.parentVid === family[i] && !family.includes(st.vid)) family.push(st.vid);
    }
    return family.every((v) => this.states.get(v)?.deleted) ? family : [];
  }

  /** Forget VDIs whose objects are gone: their vids are free again. */
  async forget(vids: number[]): Promise<void> {
    for (const vid of vids) {
      this.states.delete(vid);
      this.inuse[vid >>> 3]! &= ~(1 << (vid & 7));
      this.deleted[vid >>> 3]! &= ~(1 << (vid & 7));
    }
    await this.meta?.delVdiStates(vids);
  }

  async setCopies(vid: number, nrCopies: number, blockSizeShift: number): Promise<void> {
    const s = this.states.get(vid);
    if (!s) return;
    s.nrCopies = nrCopies;
    if (blockSizeShift) s.blockSizeShift = blockSizeShift;
    await this.persist(s);
  }

  /** Take in states learned from other sheep (join). Returns how many were new. */
  async merge(states: VdiState[]): Promise<number> {
    const changed: VdiState[] = [];
    for (const s of states) {
      const mine = this.states.get(s.vid);
      if (!mine) {
        this.put(s);
        changed.push(s);
        continue;
      }
      if ((s.deleted && !mine.deleted) || (s.snapshot && !mine.snapshot)) {
        mine.deleted ||= s.deleted;
        mine.snapshot ||= s.snapshot;
        this.put(mine);
        changed.push(mine);
      }
    }
    await this.persist(...changed);
    return changed.length;
  }

  /**
   * Can `owner` take the lock (type 0 normal, 1 shared)? Throws VDI_LOCKED when
   * not: a normal lock needs an unlocked VDI, a shared one a VDI without a
   * normal lock; an unknown vid counts as locked, as in the original.
   */
  checkLock(vid: number, type: number): void {
    const s = this.states.get(vid);
    if (!s) throw new SdError(SD_RES.VDI_LOCKED);
    if (type === 0 && s.lockState !== LOCK_STATE.UNLOCKED) throw new SdError(SD_RES.VDI_LOCKED);
    if (type !== 0 && s.lockState === LOCK_STATE.LOCKED) throw new SdError(SD_RES.VDI_LOCKED);
  }

  /** LOCK_VDI main part (USE_LOCK clusters): the lock is held by the sender's node. */
  lock(vid: number, type: number, owner: LockHolder): void {
    const s = this.states.get(vid);
    if (!s) return;
    if (type === 0) {
      if (s.lockState !== LOCK_STATE.UNLOCKED) return;
      s.lockState = LOCK_STATE.LOCKED;
      s.lockOwner = { addr: Buffer.from(owner.addr), port: owner.port };
      return;
    }
    if (s.lockState === LOCK_STATE.LOCKED) return;
    if (s.participants.some((p) => p.node.port === owner.port && p.node.addr.equals(owner.addr))) return;
    const modified = s.participants.some((p) => p.state === SHARED_LOCK_STATE.MODIFIED);
    const state = s.participants.length === 0 ? SHARED_LOCK_STATE.MODIFIED
      : modified ? SHARED_LOCK_STATE.INVALIDATED : SHARED_LOCK_STATE.SHARED;
    s.participants.push({ node: { addr: Buffer.from(owner.addr), port: owner.port }, state });
    s.lockState = LOCK_STATE.SHARED;
  }

  /** RELEASE_VDI main part: a normal lock goes whoever asks; a shared one loses the asking node. */
  unlock(vid: number, type: number, node: LockHolder): void {
    const s = this.states.get(vid);
    if (!s) return;
    if (type === 0) {
      if (s.lockState !== LOCK_STATE.LOCKED) return;
      s.lockState = LOCK_STATE.UNLOCKED;
      s.lockOwner = null;
      return;
    }
    s.participants = s.participants.filter((p) => !(p.node.port === node.port && p.node.addr.equals(node.addr)));
    if (s.participants.length === 0 && s.lockState === LOCK_STATE.SHARED) s.lockState = LOCK_STATE.UNLOCKED;
  }

  /**
   * A node left the cluster: it is no longer a shared-lock participant anywhere
   * (normal locks stay, as in the original: their owner may come back).
   */
  dropParticipant(node: LockHolder): void {
    for (const s of this.states.values()) {
      if (s.participants.length === 0) continue;
      s.participants = s.participants.filter((p) => !(p.node.port === node.port && p.node.addr.equals(node.addr)));
      if (s.participants.length === 0 && s.lockState === LOCK_STATE.SHARED) s.lockState = LOCK_STATE.UNLOCKED;
    }
  }

  async clear(): Promise<void> {
    this.states.clear();
    this.inuse.fill(0);
    this.deleted.fill(0);
    await this.meta?.clearVdiStates();
  }
}
