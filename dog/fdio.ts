/**
 * Raw reads from file descriptors (stdin for vdi write), asynchronous so that
 * network requests overlap them. EAGAIN (a non-blocking descriptor) waits briefly.
 */
import { read } from 'node:fs';

function readOnce(fd: number, buf: Buffer, off: number, len: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, off, len, null, (e, n) => {
      if (!e) resolve(n);
      else if (e.code === 'EAGAIN' || e.code === 'EINTR') setTimeout(() => readOnce(fd, buf, off, len).then(resolve, reject), 1);
      else reject(e);
    });
  });
}

/** Read until `len` bytes are in buf[0..len) or EOF; resolves with the count read. */
export async function readFull(fd: number, buf: Buffer, len: number): Promise<number> {
  let have = 0;
  while (have < len) {
    const n = await readOnce(fd, buf, have, len - have);
    if (n === 0) break;
    have += n;
  }
  return have;
}
