/** dog node recovery [-P] | info | set-throttle <max> <interval> | get-throttle (cli.md §2.6.4-5). */
import { fixed } from '../../shared/cformat.js';
import { nodeAddrString } from '../../shared/node.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import {
  decodeRecoveryState, decodeRecoveryThrottle, encodeRecoveryThrottle, RECOVERY_STATE_SIZE, RECOVERY_THROTTLE_SIZE, type RecoveryState,
} from '../../shared/proto/recovery.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT, ExitNow } from '../exit.js';
import { err, flushStdout, out } from '../output.js';
import { showProgress } from '../progress.js';
import { nodeJson, padEndBytes } from '../../shared/report-text.js';
import { noJson, printJson } from '../json.js';

/** The original returns -1 from these, which the shell sees as 255. */
const EXIT_MINUS_ONE = 255;

export const RECOVERY_HEADER = 'Nodes In Recovery:\n  Id   Host:Port         V-Nodes       Zone       Progress\n';

interface Stat {
  rs?: RecoveryState;
  code: number;
  message?: string;
}

/** STAT_RECOVERY of one node; a failure carries its message (printed by the caller, in node order). */
async function statRecovery(dog: Dog, to = dog.target): Promise<Stat> {
  const r = await dog.exec(SdHeader.request(SD_OP.STAT_RECOVERY, 0, RECOVERY_STATE_SIZE), undefined, to);
  if (!r) return { code: EXIT.SYSFAIL };
  if (r.hdr.result !== SD_RES.SUCCESS) return { code: EXIT.FAILURE, message: resultText(r.hdr.result) };
  return { rs: decodeRecoveryState(r.data), code: EXIT.SUCCESS };
}

/** -P: follow the target node's recovery once a second. */
async function progress(dog: Dog): Promise<number> {
  for (let first = true; ; first = false) {
    const { rs, code, message } = await statRecovery(dog);
    if (!rs) {
      if (message) err(message);
      return code;
    }
    if (!rs.inRecovery) {
      if (!first) showProgress(1, 1, true);
      return EXIT.SUCCESS;
    }
    if (rs.state === 0) out('\rpreparing a checked object list...');
    else if (rs.state === 2) out('\rnotifying a completion of recovery...');
    else showProgress(Number(rs.finished), Number(rs.total), true);
    flushStdout();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * `--format json`: every node (the text lists only those in recovery), with
 * its state and counts; the text's first failure ends it the same way.
 */
function recoveryJson(dog: Dog, replies: readonly Stat[]): number {
  const nodes: Record<string, unknown>[] = [];
  for (const [i, rep] of replies.entries()) {
    if (!rep.rs) {
      if (rep.message) err(rep.message);
      return rep.code;
    }
    const n = dog.nodes[i]!;
    const { inRecovery, state, finished, total } = rep.rs;
    nodes.push({
      id: i, ...nodeJson(n), vnodes: n.nrVnodes, zone: n.zone >>> 0,
      in_recovery: inRecovery, state: inRecovery ? RECOVERY_STATES[state] ?? state : undefined, finished, total,
    });
  }
  printJson(nodes);
  return EXIT.SUCCESS;
}

/** recovery_state.state as the sheep reports it (RW_PREPARE_LIST, RW_RECOVER_OBJ, RW_NOTIFY_COMPLETION). */
const RECOVERY_STATES: readonly string[] = ['preparing', 'recovering', 'notifying'];

export const info = {
  async run(dog: Dog): Promise<number> {
    if (dog.opts.progress) {
      if (dog.json) noJson('node recovery -P');
      return progress(dog);
    }
    const replies = await Promise.all(dog.nodes.map((n) => statRecovery(dog, dog.nodeTarget(n))));
    if (dog.json) return recoveryJson(dog, replies);
    if (!dog.raw) out(RECOVERY_HEADER);
    for (const [i, rep] of replies.entries()) {
      if (!rep.rs) {
        if (rep.message) err(rep.message);
        return rep.code;
      }
      const rs = rep.rs;
      if (!rs.inRecovery) continue;
      const n = dog.nodes[i]!;
      if (dog.raw) {
        out(`${i} ${nodeAddrString(n)} ${n.nrVnodes} ${n.zone >>> 0} ${rs.finished} ${rs.total}\n`);
      } else {
        const pct = rs.total === 0n ? 0 : (Number(rs.finished) / Number(rs.total)) * 100;
        out(`${String(i).padStart(4)}   ${padEndBytes(nodeAddrString(n), 20)}${String(n.nrVnodes).padStart(5)}` +
          `${String(n.zone >>> 0).padStart(11)}${fixed(pct, 1).padStart(11)}%\n`);
      }
    }
    return EXIT.SUCCESS;
  },
};

/** A whole argument as C's strtoll reads it (base 10); undefined when it is not one or out of range. */
function strtoll(arg: string): bigint | undefined {
  if (!/^[ \t\n\v\f\r]*[+-]?\d+$/.test(arg)) return undefined;
  const v = BigInt(arg.trim());
  return v > 2n ** 63n - 1n || v < -(2n ** 63n) ? undefined : v;
}

function invalid(message: string): never {
  err(message);
  throw new ExitNow(EXIT.USAGE);
}

export const setThrottle = {
  async run(dog: Dog, args: string[]): Promise<number> {
    const [maxArg, intervalArg] = args;
    if (maxArg === undefined || intervalArg === undefined) {
      invalid(`Invalid interval max (${maxArg ?? '(null)'}), interval (${intervalArg ?? '(null)'})`);
    }
    const maxVal = strtoll(maxArg);
    if (maxVal === undefined || maxVal < 0n || maxVal > 0xffffffffn) invalid(`Invalid max (${maxArg})`);
    const interval = strtoll(intervalArg);
    if (interval === undefined || interval < 0n) invalid(`Invalid interval (${intervalArg})`);
    const max = Number(maxVal);
    if ((max === 0) !== (interval === 0n)) invalid(`Invalid interval max (${max}), interval (${interval})`);
    const b = encodeRecoveryThrottle(max, interval);
    const r = await dog.exec(SdHeader.request(SD_OP.SET_RECOVERY, SD_FLAG.CMD_WRITE, RECOVERY_THROTTLE_SIZE), b);
    if (!r || r.hdr.result !== SD_RES.SUCCESS) {
      err('Failed to execute request');
      return EXIT_MINUS_ONE;
    }
    return EXIT.SUCCESS;
  },
};

export const getThrottle = {
  async run(dog: Dog): Promise<number> {
    const r = await dog.exec(SdHeader.request(SD_OP.GET_RECOVERY, 0, RECOVERY_THROTTLE_SIZE));
    // max and interval are what is read: a reply of 16 bytes will do
    const t = r && r.hdr.result === SD_RES.SUCCESS ? decodeRecoveryThrottle(r.data, 16) : undefined;
    if (!t) {
      err('Failed to execute request');
      return EXIT_MINUS_ONE;
    }
    err(`max (${t.max}), interval (${t.interval})`);
    return EXIT.SUCCESS;
  },
};
