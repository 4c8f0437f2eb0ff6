/** The recovery fault suite (test/lib/recovery-suite.ts) on the local driver. */
import { recoverySuite } from '../lib/recovery-suite.js';

recoverySuite('recovery, local driver');
