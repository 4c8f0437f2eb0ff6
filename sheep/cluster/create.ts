import type { Logger } from '../log.js';
import type { SheepOptions } from '../options.js';
import type { ClusterDriver } from './driver.js';
import { createLocalDriver } from './local.js';
import { createZookeeperDriver } from './zookeeper.js';

/** The one place a `-c driver[:option]` becomes a driver. */
export async function createClusterDriver(spec: SheepOptions['cluster'], log: Logger): Promise<ClusterDriver> {
  switch (spec.driver) {
    case 'local':
      return createLocalDriver(spec.option, log);
    case 'zookeeper':
      return createZookeeperDriver(spec.option, log);
  }
}
