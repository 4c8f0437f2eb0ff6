import type { Logger } from '../log.js';
import type { SheepOptions } from '../options.js';
import type { ClusterDriver } from './driver.js';
import { createLocalDriver } from './local.js';

/** The one place a `-c driver[:option]` becomes a driver. */
export async function createClusterDriver(spec: SheepOptions['cluster'], log: Logger): Promise<ClusterDriver> {
  switch (spec.driver) {
    case 'local':
      return createLocalDriver(spec.option, log);
    case 'zookeeper':
      // loaded only here: its ZooKeeper client library costs every local sheep start time
      return (await import('./zookeeper.js')).createZookeeperDriver(spec.option, log);
  }
}
