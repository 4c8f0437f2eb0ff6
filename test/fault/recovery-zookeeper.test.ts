/** The recovery fault suite (test/lib/recovery-suite.ts) on a real ZooKeeper server. */
import { recoverySuite } from '../lib/recovery-suite.js';
import { ZooKeeper, zookeeperMissing } from '../lib/zookeeper.js';

/** Short enough for quick tests, long enough for a busy 2-core machine. */
const SESSION_MS = 3000;
let zk: ZooKeeper | undefined;

recoverySuite('recovery, zookeeper driver', {
  skip: zookeeperMissing(),
  before: async () => { zk = await ZooKeeper.start(); },
  after: async () => { await zk?.cleanup(); },
  driver: () => `zookeeper:${zk!.connectString},timeout=${SESSION_MS}`,
});
