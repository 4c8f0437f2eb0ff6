/** dog node stat [-w]: request counters of the target node (cli.md §2.6.7). */
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { decodeStat, SD_STAT_SIZE, type SdStat } from '../../shared/proto/stat.js';
import { formatSize } from '../../shared/size.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err, flushStdout, out } from '../output.js';


/** The one-shot table. The read and write counts sit under the swapped headings, as in 1.0. */
export function renderStat(s: SdStat, raw: boolean): string {
  const z = (n: bigint): string => formatSize(n, raw);
  const client = `${s.gwayActive}\t${s.gwayTotal}\t${s.gwayRead}\t${s.gwayWrite}\t${s.gwayRemove}\t${s.gwayFlush}\t${z(s.gwayRx)}\t${z(s.gwayTx)}\n`;
  const peer = `${s.peerActive}\t${s.peerTotal}\t${s.peerRead}\t${s.peerWrite}\t${s.peerRemove}\t0\t${z(s.peerRx)}\t${z(s.peerTx)}\n`;
  if (raw) return client + peer;
  return 'Request\tActive\tTotal\tWrite\tRead\tRemove\tFlush\tAll WR\tAll RD\n' + `Client\t${client}Peer\t${peer}`;
}

/** One `-w` report: correct column order, plus the per-second deltas. */
export function renderWatch(s: SdStat, prev: SdStat, raw: boolean): string {
  const z = (n: bigint): string => formatSize(n, raw);
  const head = raw ? '' : 'Request\tActive\tTotal\tWrite\tRead\tRemove\tFlush\tAll WR\tAll RD\tWRBW\tRDBW\tRPS\n';
  const row = (label: string, a: bigint, t: bigint, w: bigint, r: bigint, rm: bigint, fl: bigint,
    rx: bigint, tx: bigint, prx: bigint, ptx: bigint, pt: bigint): string =>
    `${raw ? '' : label}${a}\t${t}\t${w}\t${r}\t${rm}\t${fl}\t${z(rx)}\t${z(tx)}\t${z(rx - prx)}\t${z(tx - ptx)}\t${t - pt}\n`;
  return head +
    row('Client\t', s.gwayActive, s.gwayTotal, s.gwayWrite, s.gwayRead, s.gwayRemove, s.gwayFlush,
      s.gwayRx, s.gwayTx, prev.gwayRx, prev.gwayTx, prev.gwayTotal) +
    row('Peer\t', s.peerActive, s.peerTotal, s.peerWrite, s.peerRead, s.peerRemove, 0n,
      s.peerRx, s.peerTx, prev.peerRx, prev.peerTx, prev.peerTotal);
}

async function fetchStat(dog: Dog): Promise<SdStat | undefined> {
  const r = await dog.exec(SdHeader.request(SD_OP.STAT, 0, SD_STAT_SIZE));
  if (!r) return undefined;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`failed to get stat information: ${resultText(r.hdr.result)}`);
    return undefined;
  }
  return decodeStat(r.data);
}

export async function run(dog: Dog): Promise<number> {
  let prev = await fetchStat(dog);
  if (!prev) return EXIT.FAILURE;
  if (!dog.opts.watch) {
    out(renderStat(prev, dog.raw));
    return EXIT.SUCCESS;
  }
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const cur = await fetchStat(dog);
    if (!cur) return EXIT.FAILURE;
    out(renderWatch(cur, prev, dog.raw));
    flushStdout();
    prev = cur;
  }
}
