import { resultName, resultText, SD_RES } from './proto/results.js';

/**
 * An operational outcome that carries a Sheepdog result code. These travel on the
 * wire as sd_rsp.result; bugs are assertion failures, never SdError.
 */
export class SdError extends Error {
  readonly code: number;
  constructor(code: number, detail?: string) {
    super(detail ? `${resultText(code)}: ${detail}` : resultText(code));
    this.name = `SdError(${resultName(code)})`;
    this.code = code;
  }
}

/** The result code of any thrown value: SdError keeps its own, anything else is EIO. */
export function resultOf(err: unknown): number {
  if (err instanceof SdError) return err.code;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ENOENT') return SD_RES.NO_OBJ;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return SD_RES.NO_SPACE;
  return SD_RES.EIO;
}

/**
 * Is this thrown value an operational outcome (answered with a result code)
 * rather than a bug? SdError, and the errors of the system calls Node makes for
 * us (they carry an errno: EIO, ENOSPC, ENOENT...), LevelDB's faults. Anything else (an
 * assertion, TypeError, RangeError, ReferenceError, a plain Error) is a bug.
 */
export function isOperational(err: unknown): boolean {
  if (err instanceof SdError) return true;
  const e = err as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof e.code !== 'string') return false;
  // errno codes (Node sets some, e.g. EBADF on a closed FileHandle, without an
  // errno number); LevelDB (the sheep's metadata) reports its faults as LEVEL_*
  return /^E[A-Z0-9]+$/.test(e.code) || e.code.startsWith('LEVEL_');
}

/** Throw an assertion failure: a bug, not an operational outcome. */
export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new AssertionError(what);
}

export class AssertionError extends Error {
  constructor(what: string) {
    super(`assertion failed: ${what}`);
    this.name = 'AssertionError';
  }
}
