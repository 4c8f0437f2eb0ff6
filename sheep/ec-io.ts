import { SdError } from '../shared/errors.js';
import { SD_RES } from '../shared/proto/results.js';
import type { SdNode } from '../shared/node.js';
import type { ObjectIo } from './gateway.js';
import type { Sheep } from './sheep.js';

/** Gateway I/O on erasure-coded objects (strips on d+p nodes). */
export class EcIo {
  constructor(private readonly s: Sheep) {}

  async read(_io: ObjectIo, _length: number): Promise<Buffer> {
    throw new SdError(SD_RES.NO_SUPPORT, `erasure coding is not available on ${this.s.self.port}`);
  }

  async write(_io: ObjectIo, _data: Buffer, _create: boolean): Promise<void> {
    throw new SdError(SD_RES.NO_SUPPORT, 'erasure coding is not available');
  }

  /**
   * Rebuild strip `stripIndex` of an EC object from any d strips found on the
   * holder lists in `sources` (newest epoch first). Used by recovery.
   */
  async rebuildStrip(_oid: bigint, _stripIndex: number, _sources: SdNode[][]): Promise<Buffer> {
    throw new SdError(SD_RES.NO_SUPPORT, 'erasure coding is not available');
  }

  async remove(_io: ObjectIo): Promise<void> {
    throw new SdError(SD_RES.NO_SUPPORT, 'erasure coding is not available');
  }
}
