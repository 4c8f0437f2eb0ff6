/**
 * The one errno table of sheepfs: file-system operations fail by throwing
 * FsError(errno); Sheepdog result codes map to errnos here and nowhere else.
 */
import { constants } from 'node:os';
import { SdError } from '../shared/errors.js';
import { SD_RES } from '../shared/proto/results.js';

export const E = constants.errno;

export class FsError extends Error {
  constructor(readonly errno: number, message?: string) {
    super(message ?? `errno ${errno}`);
  }
}

/** Sheepdog results that have a better errno than EIO. */
const RESULT_ERRNO: ReadonlyMap<number, number> = new Map([
  [SD_RES.NO_VDI, E.ENOENT],
  [SD_RES.NO_TAG, E.ENOENT],
  [SD_RES.NO_SPACE, E.ENOSPC],
  [SD_RES.READONLY, E.EROFS],
  [SD_RES.INVALID_PARMS, E.EINVAL],
  [SD_RES.NO_SUPPORT, E.EOPNOTSUPP],
  [SD_RES.NO_MEM, E.ENOMEM],
]);

export function resultErrno(result: number): number {
  return RESULT_ERRNO.get(result) ?? E.EIO;
}

/** The errno for anything thrown inside an operation; bugs (anything else) are EIO and logged by the caller. */
export function errnoOf(err: unknown): number {
  if (err instanceof FsError) return err.errno;
  if (err instanceof SdError) return resultErrno(err.code);
  return E.EIO;
}

export const fail = (errno: number, message?: string): never => {
  throw new FsError(errno, message);
};
