/**
 * node info, md info, recovery, cluster check, vdi object/track/location and
 * alter-copy print what the original prints: test/golden/dog-inspect.txt
 * (excerpts of the reference transcript), replayed on 3 fresh sheep.
 */
import { goldenSuite, normaliseDiskSizes, normaliseNodeOrder } from '../lib/golden.js';

goldenSuite('dog-inspect.txt', { nodes: 3 }, { normalise: (s) => normaliseNodeOrder(normaliseDiskSizes(s)) });
