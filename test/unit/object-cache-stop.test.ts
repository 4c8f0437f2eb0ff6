/**
 * The object cache at a clean stop whose write-back fails (issue 13, defect 5):
 * the acknowledged writes stay in the cache directory and the next start writes
 * them back, instead of wiping the directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SdError } from '../../shared/errors.js';
import { SD_RES } from '../../shared/proto/results.js';
import type { ObjectIo } from '../../sheep/gateway.js';
import { Logger } from '../../sheep/log.js';
import { ObjectCache, type CacheBackend } from '../../sheep/store/object-cache.js';

const log = new Logger({ level: 0, dir: tmpdir(), format: 'default', dst: 'default', port: 0 });
const OBJ = 64 * 1024;

function backend() {
  const cluster = new Map<bigint, Buffer>();
  const state = { broken: false };
  const down = () => { if (state.broken) throw new SdError(SD_RES.NETWORK_ERROR, 'cluster unreachable'); };
  const b: CacheBackend = {
    objSize: () => OBJ,
    read: async (io: ObjectIo, len: number) => { down(); return Buffer.from((cluster.get(io.oid) ?? Buffer.alloc(OBJ)).subarray(io.offset, io.offset + len)); },
    write: async (io: ObjectIo, data: Buffer) => { down(); data.copy(cluster.get(io.oid)!, io.offset); },
    createAndWrite: async (io: ObjectIo, data: Buffer) => { down(); const o = Buffer.alloc(OBJ); data.copy(o, io.offset); cluster.set(io.oid, o); },
    remove: async (io: ObjectIo) => { down(); cluster.delete(io.oid); },
  };
  return { b, cluster, state };
}

test('a failed write-back at stop is written back at the next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-stop-'));
  try {
    const { b, cluster, state } = backend();
    const oid = (7n << 32n) | 3n;
    const io: ObjectIo = { oid, offset: 0, copies: 2, copyPolicy: 0, flags: 0 };
    const one = new ObjectCache(b, { dir, size: 1 << 20, directIo: false, log });
    await one.init();
    await one.write(io, Buffer.from('created in the cache'), true);
    await one.flush();
    await one.write({ ...io, offset: 4096 }, Buffer.from('acknowledged from the cache'), false);
    state.broken = true;
    await one.close();
    assert.is(cluster.get(oid)!.subarray(4096, 4096 + 12).toString(), '\0'.repeat(12), 'not written back yet');

    state.broken = false;
    const two = new ObjectCache(b, { dir, size: 1 << 20, directIo: false, log });
    await two.init();
    // served from the cache meanwhile: a read sees the acknowledged write
    assert.is((await two.read({ ...io, offset: 4096 }, 27)).toString(), 'acknowledged from the cache');
    await two.pushRecovered(() => false);
    assert.is(cluster.get(oid)!.subarray(4096, 4096 + 27).toString(), 'acknowledged from the cache');
    await two.close();

    // nothing dirty any more: a third start begins empty
    const three = new ObjectCache(b, { dir, size: 1 << 20, directIo: false, log });
    await three.init();
    assert.equal(three.info(), []);
    await three.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
