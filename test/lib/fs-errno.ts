/** The errno a sheepfs file-system call failed with (0 when it succeeded), for unit tests of sheepfs/tree.ts. */
import * as assert from 'uvu/assert';
import { FsError } from '../../sheepfs/errno.js';

export async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    assert.instance(e, FsError);
    return (e as FsError).errno;
  }
}
