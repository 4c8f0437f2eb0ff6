import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { MetaStore } from '../meta.js';
import type { SheepOptions } from '../options.js';
import { JournalStore } from './journal.js';
import { MdStore, type MdChange } from './md.js';
import { PlainStore } from './plain.js';
import type { ObjectStore } from './store.js';

export interface OpenedStore {
  store: ObjectStore;
  /** the multi-disk layer, when `PATH,DISK1,...` named disks */
  md: MdStore | undefined;
}

/**
 * The store a sheep's command line asks for: plain in `<base>/obj`, or md over
 * the listed disks; behind a journal with -j (the inner store then writes
 * without sync and is synced by the journal before ring space is reused).
 */
export async function openStore(
  o: SheepOptions, baseDir: string, meta: MetaStore, log: Logger, onMdChange: (why: MdChange, left: number) => void,
): Promise<OpenedStore> {
  const journaled = o.journal !== undefined;
  const nosync = o.nosync || journaled;
  let md: MdStore | undefined;
  let store: ObjectStore;
  if (o.diskDirs.length > 0) {
    for (const d of o.diskDirs) {
      if (d === baseDir) throw new Error(`${d} is the base directory; it cannot be an md disk too`);
    }
    md = new MdStore({
      paths: o.diskDirs, nosync, directIo: o.directIo, trackDirty: journaled, meta, log, onChange: onMdChange,
    });
    store = md;
  } else {
    store = new PlainStore({ dir: join(baseDir, 'obj'), nosync, meta, log, directIo: o.directIo, trackDirty: journaled });
  }
  if (o.journal) {
    store = new JournalStore(store, {
      dir: o.journal.dir ?? baseDir, size: o.journal.size, skip: o.journal.skip, nosync: o.nosync, log,
    });
  }
  await store.init(0);
  return { store, md };
}
