import type net from 'node:net';

/** Listen, or fail with the message a user gets for a port in use or a bad address. */
export function listenOn(srv: net.Server, where: net.ListenOptions, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    srv.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(`failed to listen on ${what}: ${err.code === 'EADDRINUSE' ? 'Address already in use' : err.message}`));
    });
    srv.listen(where, () => resolve());
  });
}
