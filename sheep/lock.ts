import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One sheep per store directory. The lock is a Unix socket bound in the
 * abstract namespace under the directory's real path: binding is exclusive and
 * the kernel releases it when the process dies, even by kill -9, so no stale
 * lock can outlive its owner. The `lock` file only records who holds it.
 */
export class StoreLock {
  private constructor(private readonly server: net.Server) {}

  static acquire(realDir: string): Promise<StoreLock> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new Error(`another sheep daemon is using ${realDir}`) : err);
      });
      server.listen(`\0sheepdog-store-lock:${realDir}`, async () => {
        await writeFile(join(realDir, 'lock'), `${process.pid}\n`);
        resolve(new StoreLock(server));
      });
    });
  }

  release(): void {
    this.server.close();
  }
}
