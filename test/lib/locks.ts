import { SheepConnection } from '../../shared/client.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { SD_OP } from '../../shared/proto/opcodes.js';

/** LOCK_VDI of `name` sent to sheep `port` (type 0 normal, 1 shared), as QEMU sends it; the result code. */
export async function lockVdi(port: number, name: string, type = 0): Promise<number> {
  const conn = await SheepConnection.connect({ host: '127.0.0.1', port }, 5000);
  try {
    const h = SdHeader.request(SD_OP.LOCK_VDI, SD_FLAG.CMD_WRITE, 256);
    h.vdiType = type;
    const b = Buffer.alloc(256);
    b.write(name);
    return (await conn.request(h, b, 10_000)).hdr.result;
  } finally {
    conn.close();
  }
}
