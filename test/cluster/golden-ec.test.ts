/**
 * Erasure-coded VDIs print and behave as the original's: test/golden/dog-ec.txt
 * (on a cluster formatted -c 3) and dog-ec-format.txt (a cluster formatted with
 * an erasure code), excerpts of the reference transcript.
 */
import { goldenSuite, normaliseDiskSizes, normaliseNodeOrder } from '../lib/golden.js';

goldenSuite('dog-ec.txt', { nodes: 3, copies: 3 }, { normalise: (s) => normaliseNodeOrder(normaliseDiskSizes(s)) });
