/**
 * What the server answers when an op throws (issue 13, defect 8): an
 * operational fault (SdError, a system call's errno) becomes its result code;
 * a bug (assertion, TypeError, RangeError, a plain Error) gets no answer and
 * stops the sheep. Driven through the real op table (GET_OBJ_LIST) on a stub
 * sheep whose store throws what each case needs.
 */
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AssertionError, SdError } from '../../shared/errors.js';
import { SD_FLAG, SD_STATUS } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES } from '../../shared/proto/results.js';
import { Logger } from '../../sheep/log.js';
import { Server, type ServerDeps } from '../../sheep/server.js';
import { Stats } from '../../sheep/stats.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });

function errno(code: string, n: number): Error {
  return Object.assign(new Error(`${code}: failed, read`), { code, errno: n, syscall: 'read' });
}

/** Run GET_OBJ_LIST with a store whose listing throws `thrown`: the reply's result, or 'crash'. */
async function outcome(thrown: unknown): Promise<number | 'crash'> {
  const crashes: unknown[] = [];
  const stub = {
    group: { epoch: 1, status: SD_STATUS.OK, joined: true, formatted: true },
    stats: new Stats(),
    log,
    store: { oids: () => { throw thrown; }, staleOids: () => [] },
    crash: (_what: string, e: unknown) => { crashes.push(e); },
  } as unknown as ServerDeps;
  const server = new Server(stub);
  const written: Buffer[] = [];
  const sock = { destroyed: false, cork() {}, uncork() {}, write(b: Buffer) { written.push(Buffer.from(b)); return true; } };
  const req = SdHeader.request(SD_OP.GET_OBJ_LIST, SD_FLAG.CMD_RECOVERY, 4096);
  await (server as unknown as { handle: (s: unknown, r: SdHeader, p: undefined) => Promise<void> }).handle(sock, req, undefined);
  if (crashes.length > 0) {
    assert.is(crashes[0], thrown);
    assert.is(written.length, 0, 'a bug gets no answer');
    return 'crash';
  }
  assert.ok(written.length > 0, 'an operational fault is answered');
  return new SdHeader(written[0]!).result;
}

test('operational faults are answered with their code', async () => {
  assert.is(await outcome(new SdError(SD_RES.NO_SPACE)), SD_RES.NO_SPACE);
  assert.is(await outcome(errno('EIO', -5)), SD_RES.EIO);
  assert.is(await outcome(errno('ENOSPC', -28)), SD_RES.NO_SPACE);
  assert.is(await outcome(errno('ENOENT', -2)), SD_RES.NO_OBJ);
});

test('bugs stop the sheep instead of being answered', async () => {
  assert.is(await outcome(new AssertionError('the ring has holders')), 'crash');
  assert.is(await outcome(new TypeError("Cannot read properties of undefined (reading 'oid')")), 'crash');
  assert.is(await outcome(new RangeError('offset out of range')), 'crash');
  assert.is(await outcome(new ReferenceError('x is not defined')), 'crash');
  assert.is(await outcome(new Error('something unexpected')), 'crash');
});

test.run();
