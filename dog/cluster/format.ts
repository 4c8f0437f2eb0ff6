/** dog cluster format [-b store] [-c copies] [-l] [-t] [-z shift] [-V] [-R] [-f] [-F] (cli.md §2.5.2). */
import { decodeClusterInfo, CLUSTER_INFO_SIZE } from '../../shared/proto/cluster-info.js';
import { SD_CLUSTER_FLAG, SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import type { OptionValues } from '../option-values.js';
import { err, out } from '../output.js';
import { banner, confirm } from '../prompt.js';
import { BITMAP_SIZE } from '../vdi/walk.js';

const DEFAULT_STORE = 'plain';

export const NOT_EMPTY_BANNER = banner('', 'Caution! The cluster is not empty.', 'Are you sure you want to continue?');

export function copiesPrompt(copies: number, zones: number): string {
  return `Number of copies (${copies}) is larger than number of zones (${zones}).\n` +
    'Are you sure you want to continue? [yes/no]: ';
}

/** The cluster flags MAKE_FS carries for these options. */
export function formatFlags(o: OptionValues): number {
  let f = 0;
  if (o.strict) f |= SD_CLUSTER_FLAG.STRICT;
  if (o.useLock) f |= SD_CLUSTER_FLAG.USE_LOCK;
  if (o.recycleVid) f |= SD_CLUSTER_FLAG.RECYCLE_VID;
  if (!o.fixedVnodes) f |= SD_CLUSTER_FLAG.AUTO_VNODES;
  if (o.avoidDiskfull) f |= SD_CLUSTER_FLAG.AVOID_DISKFULL;
  return f;
}

/** (seconds << 32) | (microseconds * 1000), from a gettimeofday-like clock. */
export function formatCtime(ms = performance.timeOrigin + performance.now()): bigint {
  const sec = Math.floor(ms / 1000);
  const usec = Math.floor((ms - sec * 1000) * 1000);
  return (BigInt(sec) << 32n) | BigInt(usec * 1000);
}

/** Every sheep must use the vnode strategy -V asks for (gateways have no vnodes and do not count). */
async function checkVnodeStrategy(dog: Dog): Promise<boolean> {
  const replies = await Promise.all(
    dog.nodes.map((n) => dog.exec(SdHeader.request(SD_OP.CLUSTER_INFO, 0, CLUSTER_INFO_SIZE), undefined, dog.nodeTarget(n))),
  );
  for (let i = 0; i < replies.length; i++) {
    const r = replies[i];
    if (!r) {
      err('Fail to execute request');
      return false;
    }
    if (r.hdr.result !== SD_RES.SUCCESS) {
      err(resultText(r.hdr.result));
      return false;
    }
    if (dog.nodes[i]!.nrVnodes === 0) continue;
    const auto = r.data.length >= 18 && (decodeClusterInfo(r.data).flags & SD_CLUSTER_FLAG.AUTO_VNODES) !== 0;
    if (auto && dog.opts.fixedVnodes) {
      err("Can not apply the option of '-V', because there are vnode strategy of sheep is auto in the cluster");
      return false;
    }
    if (!auto && !dog.opts.fixedVnodes) {
      err("Need to specify the option of '-V', because there are vnode strategy of sheep is fixed in the cluster");
      return false;
    }
  }
  return true;
}

async function listStores(dog: Dog): Promise<number> {
  const r = await dog.exec(SdHeader.request(SD_OP.GET_STORE_LIST, 0, 512));
  if (!r) return EXIT.SYSFAIL;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`Restore failed: ${resultText(r.hdr.result)}`);
    return EXIT.FAILURE;
  }
  const nul = r.data.indexOf(0);
  const names = r.data.subarray(0, nul < 0 ? r.data.length : nul).toString('utf8');
  out(`Available stores:\n---------------------------------------\n${names}\n`);
  return EXIT.SYSFAIL;
}

export async function run(dog: Dog): Promise<number> {
  const o = dog.opts;
  if (!(await checkVnodeStrategy(dog))) return EXIT.FAILURE;

  // asked even with -f; never when -c is absent (the server's default applies)
  if (o.copies > dog.zones) confirm(copiesPrompt(o.copies, dog.zones));

  const v = await dog.exec(SdHeader.request(SD_OP.READ_VDIS, 0, BITMAP_SIZE));
  if (!v) return EXIT.SYSFAIL;
  if (v.hdr.result !== SD_RES.SUCCESS) {
    err(resultText(v.hdr.result));
    return EXIT.FAILURE;
  }
  if (v.data.some((b) => b !== 0) && !o.force) confirm(NOT_EMPTY_BANNER);

  const store = o.store || DEFAULT_STORE;
  const payload = Buffer.concat([Buffer.from(store, 'utf8'), Buffer.alloc(1)]);
  const h = SdHeader.request(SD_OP.MAKE_FS, SD_FLAG.CMD_WRITE, payload.length);
  h.clusterCopies = o.copies;
  h.clusterCopyPolicy = o.copyPolicy;
  h.clusterFlags = formatFlags(o);
  h.clusterCtime = formatCtime();
  h.clusterBlockSizeShift = o.blockSizeShift;
  out(`using backend ${store} store\n`);
  const r = await dog.exec(h, payload);
  if (!r) return EXIT.SYSFAIL;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`Format failed: ${resultText(r.hdr.result)}`);
    return r.hdr.result === SD_RES.NO_STORE ? listStores(dog) : EXIT.SYSFAIL;
  }
  return EXIT.SUCCESS;
}
