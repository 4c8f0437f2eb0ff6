/**
 * Snapshots, clones, attributes and deletion print what the original prints for the same
 * state: the scenario in test/golden/dog-vdi-cow.txt, replayed on 3 sheep.
 */
import { goldenSuite } from '../lib/golden.js';

goldenSuite('dog-vdi-cow.txt', { nodes: 3, copies: 3 });
