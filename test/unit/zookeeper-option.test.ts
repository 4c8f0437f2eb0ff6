/**
 * `-c zookeeper:OPTION`: servers, the cluster id that becomes the base znode,
 * and the session timeout.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SdError } from '../../shared/errors.js';
import { DEFAULT_ZK_BASE, DEFAULT_ZK_TIMEOUT_MS, parseZookeeperOption } from '../../sheep/cluster/zookeeper.js';

test('one server, defaults', () => {
  assert.equal(parseZookeeperOption('10.0.0.1:2181'), { servers: '10.0.0.1:2181', base: DEFAULT_ZK_BASE, timeoutMs: DEFAULT_ZK_TIMEOUT_MS });
  assert.is(DEFAULT_ZK_BASE, '/sheepdog');
  assert.is(DEFAULT_ZK_TIMEOUT_MS, 30000);
});

test('an ensemble, a cluster id and a timeout', () => {
  assert.equal(parseZookeeperOption('a:1,b:2,c:3/prod,timeout=1000'), { servers: 'a:1,b:2,c:3', base: '/prod', timeoutMs: 1000 });
  assert.equal(parseZookeeperOption('a:1,timeout=5000'), { servers: 'a:1', base: '/sheepdog', timeoutMs: 5000 });
});

test('bad options are INVALID_PARMS', () => {
  for (const bad of ['', 'a', 'a:1,timeout=x', 'a:1,timeout=-3', 'a:1/bad/id', 'timeout=100']) {
    assert.throws(() => parseZookeeperOption(bad), (e: unknown) => e instanceof SdError && e.code === 0x05, bad);
  }
});

test.run();
