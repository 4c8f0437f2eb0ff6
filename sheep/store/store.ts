import { oidHex } from '../../shared/oid.js';

/**
 * Where one object (or one erasure-coded strip of it) lives on this node.
 * `ec` is the strip index for erasure-coded objects, undefined for replicas.
 */
export interface ObjectRef {
  oid: bigint;
  ec: number | undefined;
}

/** File name of an object: `%016x`, or `%016x_%d` for an EC strip. */
export function objectName(oid: bigint, ec: number | undefined): string {
  return ec === undefined ? oidHex(oid) : `${oidHex(oid)}_${ec}`;
}

/** Parse a store file name back; undefined for anything that is not an object. */
export function parseObjectName(name: string): ObjectRef | undefined {
  const m = /^([0-9a-f]{16})(?:_(\d+))?$/.exec(name);
  if (!m) return undefined;
  const oid = BigInt('0x' + m[1]);
  if (oid === 0n || oid === 0xffffffffffffffffn) return undefined;
  return { oid, ec: m[2] === undefined ? undefined : Number(m[2]) };
}

/** One disk of a store, as MD_INFO reports it. */
export interface DiskInfo {
  path: string;
  free: bigint;
  used: bigint;
  /** live objects on the disk */
  objects: number;
}

export interface SpaceInfo {
  /** bytes the store may hold in all: free + used */
  size: bigint;
  free: bigint;
  used: bigint;
}

/**
 * The object store of one sheep. Contract:
 * - `create` replaces the object atomically: a reader sees the old object or the
 *   new one, never a mix; bytes not written read as zeros.
 * - `write` needs the object to exist (NO_OBJ otherwise).
 * - Unless the store was opened with nosync, a resolved create/write/remove is
 *   on stable storage.
 * - `read` past the end of the file returns zeros.
 */
export interface ObjectStore {
  readonly kind: string;
  init(epoch: number): Promise<void>;
  exists(ref: ObjectRef): boolean;
  /**
   * Look on disk: false (and the object forgotten) when its file was removed
   * behind the store's back. For checks (dog vdi check); exists() trusts memory.
   */
  recheck(ref: ObjectRef): Promise<boolean>;
  /**
   * `into`: a buffer of at least `length` bytes the caller owns, which the
   * store may read into (the result is then a view of it) and no longer
   * touches once the call settles; a store may also return another buffer.
   */
  read(ref: ObjectRef, offset: number, length: number, into?: Buffer): Promise<Buffer>;
  write(ref: ObjectRef, offset: number, data: Buffer): Promise<void>;
  create(ref: ObjectRef, offset: number, data: Buffer, fullSize: number, epoch: number): Promise<void>;
  remove(ref: ObjectRef): Promise<void>;
  /** Names of all live objects. */
  names(): IterableIterator<string>;
  /** Oids of all live objects, ascending and without duplicates. */
  oids(): bigint[];
  space(): Promise<SpaceInfo>;
  /** Remove every object (cluster format). */
  purge(): Promise<void>;
  /**
   * Move a live object aside as `.stale/<name>.<epoch>`: this node no longer
   * owns it, but recovery elsewhere may still read it until the cluster has
   * finished recovering `epoch + 1`.
   */
  moveToStale(ref: ObjectRef, epoch: number): Promise<void>;
  /** Newest stale epoch tag of an object, or undefined. */
  staleEpoch(ref: ObjectRef): number | undefined;
  /** Read a stale copy tagged `epoch`. */
  readStale(ref: ObjectRef, epoch: number, offset: number, length: number): Promise<Buffer>;
  /** Oids of stale copies, ascending and without duplicates. */
  staleOids(): bigint[];
  /** Forget every stale copy (the whole cluster has recovered). */
  purgeStale(): Promise<void>;
  /**
   * Make every resolved create/write/remove/moveToStale durable. A no-op for a
   * store that syncs as it goes; the journal calls it on its inner store before
   * it reuses ring space.
   */
  sync(): Promise<void>;
  close(): Promise<void>;
}
