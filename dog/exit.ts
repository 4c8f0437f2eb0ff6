/**
 * Exit statuses of dog (include/exits.h of the original). Scripts test these
 * numbers, so they never change.
 */
export const EXIT = {
  SUCCESS: 0,
  FAILURE: 1,
  /** connection or cluster problem */
  SYSFAIL: 2,
  EXISTS: 3,
  FULL: 4,
  MISSING: 5,
  USAGE: 64,
} as const;

/**
 * Ends dog at once with a status, the way the original calls exit() from deep
 * inside a command: no usage text and no `-T` elapsed-time line follow.
 * main() catches it, flushes stdout and exits.
 */
export class ExitNow extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = 'ExitNow';
  }
}
