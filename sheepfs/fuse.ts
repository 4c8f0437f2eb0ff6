/**
 * The only module of sheepfs that knows FUSE. The rest of sheepfs implements
 * the small promise-based FileSystem interface (fuse/types.ts) and calls
 * mount(); which backend serves the mount is chosen here:
 *
 *  - kernel (fuse/kernel.ts): the FUSE protocol over /dev/fuse, 1 MiB
 *    requests, parallel direct writes to one file. Needs root.
 *  - native (fuse/native.ts): fuse-native (libfuse2), the fallback where the
 *    kernel backend cannot run (not root, /dev/fuse cannot be opened, mount
 *    refused, a kernel older than FUSE 7.36).
 *
 * `auto` (the default) tries kernel, then native; `--fuse` or SHEEPFS_FUSE
 * forces one. What both give: every operation answered within opTimeoutMs
 * (fuse/guard.ts), unmounting without spawning from the mounted process (a
 * helper started before /dev/fuse is opened, fuse/helper.ts), an unmount from
 * outside noticed (mountinfo watched, asynchronously) and reported through
 * onGone, and no stale mount left by a killed sheepfs.
 */
import { stat } from 'node:fs/promises';
import { kernelUnavailable, mountKernel } from './fuse/kernel.js';
import { isFuseMounted, waitUnmounted } from './fuse/mountinfo.js';
import { mountNative } from './fuse/native.js';
import { FUSE_BACKENDS, type Backend, type FileSystem, type FuseBackendChoice, type MountOptions } from './fuse/types.js';

export type { Attr, FileSystem, FuseBackendChoice, MountOptions } from './fuse/types.js';
export { isFuseMounted } from './fuse/mountinfo.js';

export interface Mounted {
  /** which backend serves the mount, for the log */
  backend: string;
  /** Unmount (lazily, like fusermount -uz) and resolve when the mount is gone. */
  unmount(): Promise<void>;
  /** Called once when the mount disappears, whoever removed it. */
  onGone(fn: () => void): void;
  /** End the process once the mount is gone (process.exit would wait for a backend thread stuck in the kernel: then SIGKILL). */
  exit(code: number): Promise<never>;
}

/** How often the mount table is read to notice an unmount from outside. */
const MOUNT_WATCH_MS = 500;
/** How long unmount() waits for the mount to go. */
const UNMOUNT_WAIT_MS = 10_000;

/** The backend asked for by SHEEPFS_FUSE, if any (the option wins over it). */
export function backendFromEnv(): FuseBackendChoice | undefined {
  const v = process.env.SHEEPFS_FUSE;
  return FUSE_BACKENDS.includes(v as FuseBackendChoice) ? (v as FuseBackendChoice) : undefined;
}

/** For --help: the backend a mount would use here now. */
export function backendHere(choice: FuseBackendChoice): string {
  if (choice === 'native') return 'native (asked for)';
  const why = kernelUnavailable();
  if (why) return choice === 'kernel' ? `none: kernel was asked for, but ${why}` : `native (kernel cannot run: ${why})`;
  return choice === 'kernel' ? 'kernel (asked for)' : 'kernel (native if the mount is refused)';
}

async function mountBackend(mnt: string, fs: FileSystem, o: MountOptions): Promise<Backend> {
  if (o.backend === 'native') return mountNative(mnt, fs, o);
  const why = kernelUnavailable();
  if (why) {
    if (o.backend === 'kernel') throw new Error(`the kernel FUSE backend cannot run: ${why}`);
    return mountNative(mnt, fs, o);
  }
  try {
    return await mountKernel(mnt, fs, o);
  } catch (e) {
    if (o.backend === 'kernel' || (await isFuseMounted(mnt).catch(() => true))) throw e;
    o.log(`kernel FUSE backend: ${(e as Error).message}; using fuse-native`);
    return mountNative(mnt, fs, o);
  }
}

export async function mount(mnt: string, fs: FileSystem, o: MountOptions): Promise<Mounted> {
  const b = await mountBackend(mnt, fs, o);

  const goneListeners: (() => void)[] = [];
  let gone = false;
  const markGone = (): void => {
    if (gone) return;
    gone = true;
    clearInterval(watch);
    b.dismiss();
    for (const fn of goneListeners.splice(0)) fn();
  };
  let checking = false;
  const watch = setInterval(() => {
    if (checking) return;
    checking = true;
    isFuseMounted(mnt).then((m) => { if (!m) markGone(); }, () => {}).finally(() => { checking = false; });
  }, MOUNT_WATCH_MS);
  // the connection ended (unmounted, or aborted): gone once the mount table agrees
  b.onEnd(() => { void waitUnmounted(mnt, UNMOUNT_WAIT_MS).then((ok) => { if (ok) markGone(); }); });

  return {
    backend: b.description,
    onGone(fn) {
      if (gone) fn();
      else goneListeners.push(fn);
    },
    async exit(code) {
      if (!(await b.quiesce())) {
        o.log('the FUSE connection is still held (files open after a lazy unmount?): ending with SIGKILL');
        process.kill(process.pid, 'SIGKILL');
      }
      process.exit(code);
    },
    async unmount() {
      if (!gone) {
        b.unmount();
        if (await waitUnmounted(mnt, UNMOUNT_WAIT_MS)) markGone();
      }
      if (!gone) throw new Error(`${mnt} is still mounted`);
    },
  };
}

/** A cheap check that `mnt` exists and is a directory, with the message to print. */
export async function checkMountpoint(mnt: string): Promise<string | undefined> {
  try {
    const st = await stat(mnt);
    if (!st.isDirectory()) return `${mnt} is not a directory`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${mnt}: No such file or directory`;
    if (code === 'ENOTCONN') return `${mnt}: Transport endpoint is not connected (a dead mount: fusermount -u ${mnt})`;
    return `${mnt}: ${(e as Error).message}`;
  }
  if (await isFuseMounted(mnt).catch(() => false)) return `${mnt} is already a FUSE mount point`;
  return undefined;
}
