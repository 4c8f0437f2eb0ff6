/** dog vdi lock list: VDIs locked by a client, with their owners (cli.md §2.7.20, the 1.0.1 table). */
import { isSnapshot } from '../../shared/inode.js';
import { nodeIdString } from '../../shared/node.js';
import { requestGrowing } from '../../shared/grow-reply.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { decodeVdiState, LOCK_STATE, SHARED_LOCK_STATE, VDI_STATE_SIZE, type VdiState } from '../../shared/proto/vdi-state.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { padEndBytes } from '../../shared/report-text.js';
import { isCloneInode } from '../../shared/report-text.js';
import { findVdi } from './open.js';
import { walkVdis } from './walk.js';

export const LOCK_LIST_HEADER = '  Name         Id  VDI id  Tag            Owner node(s)\n';

/** Most VDI states asked for: one per possible vid. */
const VDI_STATES_MAX = 1 << 24;

async function vdiStates(dog: Dog): Promise<Map<number, VdiState> | undefined> {
  const { reply: r } = await requestGrowing(
    (count) => dog.exec(SdHeader.request(SD_OP.GET_VDI_COPIES, 0, count * VDI_STATE_SIZE)),
    { first: 512, max: VDI_STATES_MAX },
  );
  if (!r) return undefined;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`failed to execute SD_OP_GET_VDI_COPIES: ${resultText(r.hdr.result)}`);
    return undefined;
  }
  const m = new Map<number, VdiState>();
  for (let at = 0; at + VDI_STATE_SIZE <= r.data.length; at += VDI_STATE_SIZE) {
    const s = decodeVdiState(r.data, at);
    m.set(s.vid, s);
  }
  return m;
}

const sharedName = (st: number): string =>
  st === SHARED_LOCK_STATE.MODIFIED ? 'modified'
    : st === SHARED_LOCK_STATE.SHARED ? 'shared'
      : st === SHARED_LOCK_STATE.INVALIDATED ? 'invalidated' : `UNKNOWN ${st}, BUG!`;

export const list = {
  async run(dog: Dog): Promise<number> {
    const states = await vdiStates(dog);
    if (!states) {
      err('Failed to get VDI state');
      return EXIT.SYSFAIL;
    }
    out(LOCK_LIST_HEADER);
    const ok = await walkVdis(dog, false, ({ vid, header: h }) => {
      const s = states.get(vid);
      if (!s || (s.lockState !== LOCK_STATE.LOCKED && s.lockState !== LOCK_STATE.SHARED)) return;
      const flag = isSnapshot(h) ? 's' : isCloneInode(h) ? 'c' : ' ';
      let line = `${flag} ${padEndBytes(h.name, 8)}  ${String(isSnapshot(h) ? h.snapId : 0).padStart(5)}  ` +
        `${vid.toString(16).padStart(6)}  ${padEndBytes(h.tag, 13)} `;
      if (s.lockState === LOCK_STATE.LOCKED && s.lockOwner) line += ` ${nodeIdString(s.lockOwner)}`;
      else for (const p of s.participants) line += ` ${nodeIdString(p.node)}(${sharedName(p.state)})`;
      out(`${line}\n`);
    });
    return ok ? EXIT.SUCCESS : EXIT.SYSFAIL;
  },
};

/** How unlock names the VDI in its messages. */
export function unlockDesc(name: string, snapid: number, tag: string, vid?: number): string {
  const parts: string[] = [];
  if (tag) parts.push(`tag=${tag}`);
  else if (snapid) parts.push(`snapid=${snapid}`);
  if (vid !== undefined) parts.push(`vid=${vid.toString(16)}`);
  return parts.length ? `${name} (${parts.join(', ')})` : name;
}

export const unlock = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const o = dog.opts;
    const name = args[0]!;
    const f = await findVdi(dog, name, o.snapshotId, o.snapshotTag);
    if (f.result !== SD_RES.SUCCESS) {
      err(`Failed to find VDI ${unlockDesc(name, o.snapshotId, o.snapshotTag)}: ${resultText(f.result)}`);
      return EXIT.FAILURE;
    }
    const desc = unlockDesc(name, o.snapshotId, o.snapshotTag, f.vid);
    const states = await vdiStates(dog);
    if (!states) {
      err('Failed to get VDI state');
      return EXIT.SYSFAIL;
    }
    const s = states.get(f.vid);
    if (!s) {
      err(`Failed to find VDI state ${desc}`);
      return EXIT.SYSFAIL;
    }
    if (s.lockState === LOCK_STATE.UNLOCKED) {
      err(`VDI ${desc} is not locked`);
      return EXIT.FAILURE;
    }
    if (s.lockState !== LOCK_STATE.LOCKED && s.lockState !== LOCK_STATE.SHARED) {
      err(`VDI ${desc} unknown lock state (${s.lockState})`);
      return EXIT.SYSFAIL;
    }
    const h = SdHeader.request(SD_OP.RELEASE_VDI);
    h.vdiBaseVid = f.vid;
    h.vdiType = s.lockState === LOCK_STATE.SHARED ? 1 : 0;
    const r = await dog.exec(h);
    return r && r.hdr.result === SD_RES.SUCCESS ? EXIT.SUCCESS : EXIT.FAILURE;
  },
};
