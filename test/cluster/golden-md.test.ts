/**
 * Multi-disk sheep (`sheep DIR,DIR/d0,DIR/d1,DIR/d2`): md info, plug and unplug
 * print what the original prints: test/golden/dog-md.txt.
 */
import { join } from 'node:path';
import { goldenSuite, normaliseDiskSizes } from '../lib/golden.js';

goldenSuite('dog-md.txt', { nodes: 3, copies: 3, disks: (_i, dir) => [0, 1, 2].map((d) => join(dir, `d${d}`)) }, { normalise: normaliseDiskSizes });
