/**
 * dog vdi cache flush|info|delete: the object cache of the target sheep (-w).
 * Sheepdog 0.9 had these; 1.0 dropped the cache. Kept out of the 1.0 command
 * listings, so that 1.0 transcripts stay as they were.
 */
import { vidToVdiOid } from '../../shared/oid.js';
import { CACHE_INFO_HEADER, CACHE_INFO_ROW, decodeCacheInfo } from '../../shared/proto/cache-info.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { formatSize } from '../../shared/size.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { padEndBytes } from '../../shared/report-text.js';
import { findVdi, openFailureText } from './open.js';
import { walkVdis } from './walk.js';

/** Largest GET_CACHE_INFO reply asked for: 24-byte rows for 2^16 cached VDIs. */
const CACHE_INFO_BYTES = CACHE_INFO_HEADER + CACHE_INFO_ROW * 65536;

async function vdiOp(dog: Dog, args: string[], opcode: number, what: string): Promise<number> {
  const name = args[0]!;
  const f = await findVdi(dog, name, dog.opts.snapshotId, (dog.opts.snapshotTag || null));
  if (f.result !== SD_RES.SUCCESS) {
    err(openFailureText(name, dog.opts.snapshotId, (dog.opts.snapshotTag || null), f.result));
    return EXIT.FAILURE;
  }
  const h = SdHeader.request(opcode);
  h.objOid = vidToVdiOid(f.vid);
  const r = await dog.exec(h);
  if (!r) return EXIT.FAILURE;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`failed to ${what} the cache of ${name}: ${resultText(r.hdr.result)}`);
    return EXIT.FAILURE;
  }
  return EXIT.SUCCESS;
}

export const flush = {
  run: (dog: Dog, args: string[]) => vdiOp(dog, args, SD_OP.FLUSH_VDI, 'flush'),
};

export const remove = {
  run: (dog: Dog, args: string[]) => vdiOp(dog, args, SD_OP.DELETE_CACHE, 'delete'),
};

export const info = {
  async run(dog: Dog): Promise<number> {
    const r = await dog.exec(SdHeader.request(SD_OP.GET_CACHE_INFO, 0, CACHE_INFO_BYTES));
    if (!r) return EXIT.FAILURE;
    if (r.hdr.result !== SD_RES.SUCCESS) {
      err(`failed to get cache information: ${resultText(r.hdr.result)}`);
      return EXIT.FAILURE;
    }
    const { size, used, directIo: directio, rows: list } = decodeCacheInfo(r.data);
    const rows = new Map<number, { objects: number; bytes: bigint; dirty: bigint }>();
    for (const row of list) rows.set(row.vid, { objects: row.objects, bytes: row.bytes, dirty: row.dirty });
    const names = new Map<number, { name: string; tag: string }>();
    if (rows.size > 0) {
      await walkVdis(dog, false, ({ vid, header }) => { if (rows.has(vid)) names.set(vid, { name: header.name, tag: header.tag }); });
    }
    if (dog.raw) {
      for (const [vid, row] of rows) {
        const n = names.get(vid);
        out(`${n?.name ?? vid.toString(16)} ${n?.tag ?? ''} ${row.objects} ${row.bytes} ${row.dirty}\n`);
      }
      out(`${size} ${used} ${directio ? 1 : 0}\n`);
      return EXIT.SUCCESS;
    }
    out('  Name        Tag           Objects    Total     Dirty\n');
    for (const [vid, row] of rows) {
      const n = names.get(vid);
      out(`  ${padEndBytes(n?.name ?? vid.toString(16), 10)}  ${padEndBytes(n?.tag ?? '', 12)}  ${String(row.objects).padStart(7)}  ` +
        `${formatSize(row.bytes).padStart(7)}  ${formatSize(row.dirty).padStart(8)}\n`);
    }
    out(`Cache size ${formatSize(size)}, used ${formatSize(used)}, ${directio ? 'directio' : 'non-directio'}\n`);
    return EXIT.SUCCESS;
  },
};
