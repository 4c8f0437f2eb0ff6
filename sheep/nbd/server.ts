/**
 * The sheep's NBD listeners (--nbd [ADDR:]PORT, --nbd-unix PATH): each
 * connection is an NbdSession over this sheep's exports.
 */
import * as fsp from 'node:fs/promises';
import net from 'node:net';
import { listenOn } from '../listen.js';
import type { SheepOptions } from '../options.js';
import { NbdExports, type NbdDeps } from './exports.js';
import { cacheFlusher, NbdSession, type SessionContext } from './session.js';

/** How long stopping waits for connections to hand back their VDIs (locks). */
const CLOSE_WAIT_MS = 5_000;

export class NbdServer {
  private readonly servers: net.Server[] = [];
  private readonly sessions = new Map<net.Socket, Promise<void>>();
  private readonly ctx: SessionContext;
  private unixPath: string | undefined;

  constructor(s: NbdDeps & { readonly opts: Pick<SheepOptions, 'nbd'> }) {
    const exports = new NbdExports(s);
    this.ctx = { exports, log: s.log, flushCache: s.cache ? cacheFlusher(exports) : undefined };
  }

  /** Listen where the options say; undefined when they name no NBD listener. */
  static async start(s: NbdDeps & { readonly opts: Pick<SheepOptions, 'nbd'> }): Promise<NbdServer | undefined> {
    const o = s.opts.nbd;
    if (!o.tcp && !o.unix) return undefined;
    const srv = new NbdServer(s);
    if (o.tcp) await srv.listen({ host: o.tcp.host, port: o.tcp.port }, `NBD port ${o.tcp.host}:${o.tcp.port}`);
    if (o.unix) {
      await fsp.rm(o.unix, { force: true });
      await srv.listen({ path: o.unix }, `NBD socket ${o.unix}`);
      srv.unixPath = o.unix;
    }
    s.log.info('nbd', `serving NBD on${o.tcp ? ` ${o.tcp.host}:${o.tcp.port}` : ''}${o.unix ? ` ${o.unix}` : ''}`);
    return srv;
  }

  private async listen(where: net.ListenOptions, what: string): Promise<void> {
    const srv = net.createServer((sock) => this.accept(sock));
    await listenOn(srv, where, what);
    this.servers.push(srv);
  }

  private accept(sock: net.Socket): void {
    const run = new NbdSession(sock, this.ctx).run().finally(() => this.sessions.delete(sock));
    this.sessions.set(sock, run);
  }

  /** Stop listening, hang up every connection and wait (bounded) for their VDIs to be released. */
  async close(): Promise<void> {
    for (const srv of this.servers) srv.close();
    this.servers.length = 0;
    for (const sock of this.sessions.keys()) sock.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.sessions.values()]),
      new Promise((r) => { timer = setTimeout(r, CLOSE_WAIT_MS); }),
    ]);
    clearTimeout(timer);
    if (this.unixPath) await fsp.rm(this.unixPath, { force: true });
  }
}
