import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { MetaStore } from '../meta.js';
import type { SheepOptions } from '../options.js';
import { JournalStore } from './journal.js';
import { MdStore, type MdChange } from './md.js';
import type { ObjectStore } from './store.js';

export interface OpenedStore {
  store: ObjectStore;
  /** the multi-disk layer: the disks `PATH,DISK1,...` named, else `PATH/obj` alone */
  md: MdStore;
}

/**
 * The store a sheep's command line asks for: md over the listed disks, or over
 * `<base>/obj` alone, in the layout of the store driver the cluster was
 * formatted with (`tree`: objects in subdirectories); behind a journal with -j (the inner store then writes
 * without sync and is synced by the journal before ring space is reused).
 */
export async function openStore(
  o: SheepOptions, baseDir: string, meta: MetaStore, log: Logger, onMdChange: (why: MdChange, left: number) => void,
  tree: boolean,
): Promise<OpenedStore> {
  const journaled = o.journal !== undefined;
  const nosync = o.nosync || journaled;
  for (const d of o.diskDirs) {
    if (d === baseDir) throw new Error(`${d} is the base directory; it cannot be an md disk too`);
  }
  // like the original, a sheep without md disks is md over one disk, <base>/obj:
  // a failing directory takes it out of the cluster, and disks can be plugged
  const md = new MdStore({
    paths: o.diskDirs.length > 0 ? o.diskDirs : [join(baseDir, 'obj')],
    nosync, directIo: o.directIo, trackDirty: journaled, tree, meta, log, onChange: onMdChange,
  });
  let store: ObjectStore = md;
  if (o.journal) {
    store = new JournalStore(store, {
      dir: o.journal.dir ?? baseDir, size: o.journal.size, skip: o.journal.skip, nosync: o.nosync, log,
    });
  }
  await store.init(0);
  return { store, md };
}
