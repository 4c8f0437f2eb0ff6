import net from 'node:net';

/** The part of an accepted socket this file reaches into (net keeps it private). */
interface WithHandle { _handle: object | null }

/**
 * An accepted connection whose reads go where `onread` says, as net.connect
 * offers for outgoing ones (net.Server has no such option for the sockets it
 * accepts). Without it every socket read is a fresh 64 KiB buffer, and a 4 MiB
 * WRITE_PEER payload is 64 of them copied into a payload buffer: the garbage
 * collector then runs every few objects.
 *
 * `raw` must come from a server made with `pauseOnConnect` (nothing read yet).
 * Its handle moves to a new socket built with `onread`; `raw` keeps no handle
 * and is destroyed when the new socket closes, so the server's connection
 * count stays right. Undefined when this Node keeps the handle elsewhere: the
 * caller then reads `raw` the ordinary way.
 */
export function adoptWithOnread(raw: net.Socket, onread: net.OnReadOpts): net.Socket | undefined {
  const r = raw as unknown as WithHandle;
  const handle = r._handle;
  if (handle === null || typeof handle !== 'object' || !('readStart' in handle)) return undefined;
  r._handle = null;
  const sock = new net.Socket({ handle, onread, readable: true, writable: true } as net.SocketConstructorOpts);
  sock.once('close', () => raw.destroy());
  return sock;
}
