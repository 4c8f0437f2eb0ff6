/**
 * The --help texts of sheep and sheepfs, and sheep's option errors, as the
 * original prints them (test/golden/help.txt), but for what README's
 * "Differences from Sheepdog 1.0" lists: `-w` is the object cache (1.0.1's
 * binary has its workqueue option there), the long-only --nbd, --nbd-unix and
 * --metrics, no corosync driver, the ZooKeeper timeout's real default, and
 * sheepfs's usage without the `-o` it refuses and with its --fuse option.
 */
import { goldenSuite } from '../lib/golden.js';

const OUR_W = '  -w, --cache             enable object cache (size=SIZE,dir=PATH[,directio])';
const OUR_LONG_ONLY = [
  '      --nbd [ADDR:]PORT   export VDIs over NBD on a TCP port (ADDR default: 127.0.0.1)',
  '      --nbd-unix PATH     export VDIs over NBD on a Unix socket',
  '      --metrics [ADDR:]PORT serve Prometheus metrics at /metrics (ADDR default: 127.0.0.1)',
].join('\n');
const OUR_W_DETAIL = 'Example:\n\t$ sheep -w size=1G,dir=/ssd/cache ...\nThis keeps up to 1G of hot objects in a write-back cache in /ssd/cache.\n';

const SHEEPFS_FUSE = [
  '      --fuse=BACKEND      how to talk to FUSE (also SHEEPFS_FUSE=BACKEND):',
  '                          kernel  /dev/fuse directly: 1 MiB requests, parallel',
  '                                  direct writes (needs root)',
  '                          native  fuse-native (libfuse2): 128 KiB requests',
  '                          auto    kernel where it can run, else native (default)',
].join('\n');

function ours(command: string, output: string): string {
  if (command === 'sheepfs --help' || command === 'sheepfs -h') {
    return output
      .replace(/^ {2}-o, --objectcache/m, '      --objectcache')
      .replace(/^( {2}-h, --help .*)$/m, `$1\n${SHEEPFS_FUSE}`);
  }
  if (command === 'sheep --help' || command === 'sheep -h') {
    return output
      .replace(/^ {2}-w, --wq-threads .*$/m, OUR_W)
      .replace(/^( {2}-z, --zone .*)$/m, `$1\n${OUR_LONG_ONLY}`);
  }
  if (command === 'sheep -c') {
    return output.replace('\tcorosync: use corosync driver\n', '').replace('(default as 3000)', '(default as 30000)');
  }
  if (command === 'sheep -w') return output.replace("Try 'sheep --help' for more information.\n", OUR_W_DETAIL);
  return output;
}

/** sheepfs's usage ends with the backend it would pick on this machine */
const withoutBackendLine = (s: string) => s.replace(/^FUSE backend here: .*\n/m, '');

goldenSuite('help.txt', { nodes: 0 }, { expected: ours, normalise: withoutBackendLine });
