/**
 * What both FUSE backends do around every operation: run it, and reply once,
 * within opTimeoutMs (EIO after it), with the errno of what it threw.
 */
import { SdError } from '../../shared/errors.js';
import { FsError, E, errnoOf } from '../errno.js';

export interface GuardOptions {
  opTimeoutMs: number;
  log: (msg: string) => void;
}

/**
 * Run op; call reply once with 0 and its value, or -errno. `settled` runs when
 * op itself ends, even after a timeout reply (memory lent to op is free then).
 */
export function guarded<T>(o: GuardOptions, name: string, path: string, op: () => Promise<T>, reply: (res: number, v?: T) => void, settled?: (ok: boolean) => void): void {
  let done = false;
  const timer = setTimeout(() => {
    if (done) return;
    done = true;
    o.log(`${name} ${path}: no answer in ${o.opTimeoutMs} ms, EIO`);
    reply(-E.EIO);
  }, o.opTimeoutMs);
  let p: Promise<T>;
  try {
    p = op();
  } catch (e) {
    p = Promise.reject(e);
  }
  p.then((v) => {
    settled?.(true);
    if (done) return;
    done = true;
    clearTimeout(timer);
    reply(0, v);
  }, (err) => {
    settled?.(false);
    if (done) return;
    done = true;
    clearTimeout(timer);
    const errno = errnoOf(err);
    if (err instanceof SdError) o.log(`${name} ${path}: ${err.message}`);
    else if (!(err instanceof FsError)) o.log(`${name} ${path}: ${(err as Error)?.stack ?? err}`);
    reply(-errno);
  });
}
