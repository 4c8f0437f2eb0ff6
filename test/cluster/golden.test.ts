/**
 * dog (and sheep's option errors) print what the original prints for the same
 * state: the scenario in test/golden/dog-basic.txt, replayed on 3 sheep.
 */
import { goldenSuite } from '../lib/golden.js';

goldenSuite('dog-basic.txt', { nodes: 3 });
