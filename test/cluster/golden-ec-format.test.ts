/** A cluster formatted with an erasure code, as the original: test/golden/dog-ec-format.txt. */
import { goldenSuite } from '../lib/golden.js';

goldenSuite('dog-ec-format.txt', { nodes: 3 });
