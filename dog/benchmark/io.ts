/**
 * dog benchmark io [-f] [-w ordered|dynamic|unlimited|fixed] [-n threads] [-t total] <vdiname>
 * (cli.md §2.8): `total` full-object writes of zeros over a fully preallocated
 * VDI, cycling through its objects; ordered issues one at a time, the others
 * keep several in flight. Nothing is printed on success (-T times it).
 *
 * 1.0 also moved the write offset on by one object per write, so every write
 * after the first ran past its object's end and the sheep refused it; here
 * every write covers its whole object (README, "Differences").
 */
import { countDataObjs, decodeInodeHeader } from '../../shared/inode.js';
import { vidToDataOid, vidToVdiOid } from '../../shared/oid.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { readObject, writeObjectQuiet } from '../object-io.js';
import { err } from '../output.js';
import { Progress } from '../progress.js';
import { confirm } from '../prompt.js';
import { strtol10 } from '../option-values.js';
import { inodeIndex } from '../vdi/inode-index.js';
import { findVdi } from '../vdi/open.js';
import { INODE_WITH_INDEX } from '../vdi/read.js';

const DEFAULT_TOTAL = 1000;
/** Writes in flight for the parallel work-queue types (1.0's dynamic/unlimited grow threads as needed). */
const PARALLEL_WRITES = 16;
/** `fixed` without -n */
const DEFAULT_FIXED_THREADS = 4;
/** No more writes in flight than this, whatever -n says. */
const MAX_IN_FLIGHT = 64;

/** How many writes a work-queue type keeps in flight; undefined for an unknown type. */
export function writesInFlight(type: string | undefined, threads: string | undefined): number | undefined {
  switch (type ?? 'ordered') {
    case 'ordered': return 1;
    case 'dynamic':
    case 'unlimited': return PARALLEL_WRITES;
    case 'fixed': {
      const n = threads === undefined ? DEFAULT_FIXED_THREADS : strtol10(threads)?.value ?? 0;
      return Math.min(Math.max(n, 1), MAX_IN_FLIGHT);
    }
    default: return undefined;
  }
}

export async function run(dog: Dog, args: string[]): Promise<number> {
  const o = dog.opts;
  const name = args[0]!;
  if (!o.force) {
    confirm('Caution! benchmark io command will erase all data of target VDI.\n Are you sure you want to continue? [yes/no]');
  }
  const inFlight = writesInFlight(o.workqueue, o.nrThreads);
  if (inFlight === undefined) {
    err(`unknown workqueue type: ${o.workqueue}`);
    err('assumed workqueue types: ordered, dynamic, unlimited');
    return EXIT.SYSFAIL;
  }
  const f = await findVdi(dog, name, 0, '');
  const r = f.result === SD_RES.SUCCESS ? await readObject(dog, vidToVdiOid(f.vid), INODE_WITH_INDEX, 0, true) : undefined;
  const result = r ? r.result : f.result;
  if (result !== SD_RES.SUCCESS) {
    err(`failed to lookup VDI ${name}: ${resultText(result)}`);
    return EXIT.SYSFAIL;
  }
  const h = decodeInodeHeader(r!.data);
  const index = await inodeIndex(dog, r!.data, h.storePolicy, countDataObjs(h));
  if (!index) return EXIT.SYSFAIL;
  const objSize = 2 ** h.blockSizeShift;
  const nrObjects = Math.floor(h.vdiSize / objSize);
  for (let i = 0; i < nrObjects; i++) {
    if (index.vidAt(i) !== f.vid) {
      err(`VDI ${name} has unallocated data`);
      return EXIT.SYSFAIL;
    }
  }
  // atoi: 0 (or no number) means the default; a negative count writes nothing
  const total = (o.total === undefined ? 0 : strtol10(o.total)?.value ?? 0) || DEFAULT_TOTAL;
  if (nrObjects === 0 || total <= 0) return EXIT.SUCCESS;
  const zeros = Buffer.alloc(objSize);
  const progress = new Progress(total * objSize, total, { label: 'benchmark' });
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < total) {
      const oid = vidToDataOid(f.vid, next++ % nrObjects);
      const w = await writeObjectQuiet(dog, {
        oid, data: zeros, offset: 0, copies: h.nrCopies, copyPolicy: h.copyPolicy, create: false, direct: false,
      });
      if (w.result !== SD_RES.SUCCESS) {
        if (!failed) {
          progress.abort();
          err(`failed to write object ${oid.toString(16)}, ${resultText(w.result)}`);
        }
        failed = true;
        return;
      }
      progress.advance(objSize);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
  if (failed) return EXIT.FAILURE;
  progress.end();
  return EXIT.SUCCESS;
}
