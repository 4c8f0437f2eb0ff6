/**
 * What sheepfs and the FUSE backends agree on (re-exported by ../fuse.ts,
 * the one module the rest of sheepfs imports).
 */

export interface Attr {
  dir: boolean;
  mode: number;
  size: number;
  mtime: Date;
}

/** What a file system implements. Paths are absolute inside the mount ('/', '/vdi/list'). */
export interface FileSystem {
  getattr(path: string): Promise<Attr>;
  readdir(path: string): Promise<string[]>;
  /** returns a handle number (0 is fine when the file needs none) */
  open(path: string, flags: number): Promise<number>;
  release(path: string, fh: number): Promise<void>;
  /** the bytes at [pos, pos+len) (fewer at the end of the file) */
  read(path: string, fh: number, len: number, pos: number): Promise<Buffer>;
  /** data is the caller's own until the returned promise settles; returns the bytes written */
  write(path: string, fh: number, data: Buffer, pos: number): Promise<number>;
  truncate(path: string, size: number): Promise<void>;
  fsync(path: string, fh: number): Promise<void>;
  unlink(path: string): Promise<void>;
  /** whether files opened now may use the kernel's page cache (config/page_cache); asked at each open where the backend can */
  usesPageCache?(): boolean;
}

/** kernel: /dev/fuse spoken directly; native: fuse-native (libfuse2); auto: kernel where it can run. */
export type FuseBackendChoice = 'auto' | 'kernel' | 'native';
export const FUSE_BACKENDS: readonly FuseBackendChoice[] = ['auto', 'kernel', 'native'];

export interface MountOptions {
  fsname: string;
  /** let the kernel cache file data (false: every file is direct I/O) */
  pageCache: boolean;
  debug: boolean;
  /** every operation is answered within this time (EIO after it) */
  opTimeoutMs: number;
  log: (msg: string) => void;
  backend: FuseBackendChoice;
}

/** A mounted backend, as fuse.ts drives it. */
export interface Backend {
  /** for the mount log line */
  description: string;
  /** start unmounting (lazily); fuse.ts waits for the mount to go */
  unmount(): void;
  /** the mount is gone: end the unmount helper without it unmounting (a later mount at the same place is not ours) */
  dismiss(): void;
  /** called when the backend's connection to the kernel ends */
  onEnd(fn: () => void): void;
  /** after the unmount: true once nothing would hold up process.exit (false: it would hang) */
  quiesce(): Promise<boolean>;
}
