/**
 * Prometheus metrics (--metrics [ADDR:]PORT, served at /metrics) with
 * prom-client. Everything but request latency is read when scraped, from what
 * the sheep keeps anyway (request counters of STAT, the store, recovery,
 * membership, journal, object cache); latency is the one thing observed per
 * request, and only while this is on.
 */
import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { decodeRecoveryState } from '../shared/proto/recovery.js';
import { listenOn } from './listen.js';
import { JournalStore } from './store/journal.js';
import type { Logger } from './log.js';
import type { SheepOptions } from './options.js';
import type { MembershipView } from './ports.js';
import type { Recovery } from './recovery.js';
import type { Stats } from './stats.js';
import type { ObjectCache } from './store/object-cache.js';
import type { DiskInfo, ObjectStore } from './store/store.js';

/** What the metrics read: counters, membership, recovery, store and cache. */
export interface MetricsDeps {
  readonly opts: Pick<SheepOptions, 'metrics'>;
  readonly log: Logger;
  readonly stats: Stats;
  readonly group: MembershipView;
  readonly recovery: Pick<Recovery, 'state'>;
  readonly store: ObjectStore | undefined;
  readonly cache: ObjectCache | undefined;
  diskInfo(): Promise<DiskInfo[]>;
}

/** Latency buckets (seconds): sub-millisecond local hits to slow recoveries. */
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Time one scrape may take before the client is told it failed. */
const SCRAPE_TIMEOUT_MS = 10_000;

/** Build the registry of one sheep's metrics and start timing its requests. */
export function sheepRegistry(s: MetricsDeps): Registry {
  const r = new Registry();
  const registers = [r];
  collectDefaultMetrics({ register: r });

  const latency = new Histogram({
    name: 'sheep_request_duration_seconds', help: 'Time to answer a request, by op class (gateway, peer, cluster, local)',
    labelNames: ['class'], buckets: LATENCY_BUCKETS_S, registers,
  });
  s.stats.observer = (kind, seconds) => latency.observe({ class: kind }, seconds);

  const st = s.stats;
  new Counter({
    name: 'sheep_object_requests_total', help: 'Object requests by class (gateway: from clients; peer: from other sheep) and op',
    labelNames: ['class', 'op'], registers,
    collect() {
      this.reset();
      const rows: [string, string, number][] = [
        ['gateway', 'read', st.gwReads], ['gateway', 'write', st.gwWrites], ['gateway', 'remove', st.gwRemoves],
        ['gateway', 'flush', st.gwFlushes], ['peer', 'read', st.peerReads], ['peer', 'write', st.peerWrites],
        ['peer', 'remove', st.peerRemoves],
      ];
      for (const [cls, op, v] of rows) this.inc({ class: cls, op }, v);
    },
  });
  new Counter({
    name: 'sheep_requests_total', help: 'Requests received, gateway and peer', labelNames: ['class'], registers,
    collect() {
      this.reset();
      this.inc({ class: 'gateway' }, st.gwTotal);
      this.inc({ class: 'peer' }, st.peerTotal);
    },
  });
  new Gauge({
    name: 'sheep_requests_active', help: 'Requests in progress', labelNames: ['class'], registers,
    collect() {
      this.set({ class: 'gateway' }, st.gwActive);
      this.set({ class: 'peer' }, st.peerActive);
    },
  });
  new Counter({
    name: 'sheep_bytes_total', help: 'Payload bytes received (in) and sent (out), by class', labelNames: ['class', 'direction'], registers,
    collect() {
      this.reset();
      this.inc({ class: 'gateway', direction: 'in' }, st.gwBytesIn);
      this.inc({ class: 'gateway', direction: 'out' }, st.gwBytesOut);
      this.inc({ class: 'peer', direction: 'in' }, st.peerBytesIn);
      this.inc({ class: 'peer', direction: 'out' }, st.peerBytesOut);
    },
  });

  // the store, per disk (one disk `<store>/obj` without md)
  const perDisk = (name: string, help: string, pick: (d: Awaited<ReturnType<MetricsDeps['diskInfo']>>[number]) => number): void => {
    new Gauge({
      name, help, labelNames: ['disk'], registers,
      async collect() {
        this.reset();
        for (const d of await s.diskInfo()) this.set({ disk: d.path }, pick(d));
      },
    });
  };
  perDisk('sheep_disk_objects', 'Objects stored on the disk', (d) => d.objects);
  perDisk('sheep_disk_used_bytes', 'Bytes of objects stored on the disk', (d) => Number(d.used));
  perDisk('sheep_disk_free_bytes', 'Free bytes on the disk\'s file system', (d) => Number(d.free));

  new Gauge({
    name: 'sheep_epoch', help: 'The current epoch', registers,
    collect() { this.set(s.group.epoch); },
  });
  new Gauge({
    name: 'sheep_members', help: 'Members of the cluster as this sheep sees it', registers,
    collect() { this.set(s.group.members.length); },
  });
  new Gauge({
    name: 'sheep_cluster_status', help: 'Cluster status (1 ok, 2 waiting, 3 shutdown, 4 killed)', registers,
    collect() { this.set(s.group.status); },
  });

  // recovery: the STAT_RECOVERY record (running, phase, objects done and total)
  const recovery = (): { running: boolean; phase: number; done: number; total: number } => {
    const st = decodeRecoveryState(s.recovery.state());
    return { running: st.inRecovery, phase: st.state, done: Number(st.finished), total: Number(st.total) };
  };
  new Gauge({
    name: 'sheep_recovery_running', help: '1 while this sheep recovers objects after a membership change', registers,
    collect() { this.set(recovery().running ? 1 : 0); },
  });
  new Gauge({
    name: 'sheep_recovery_phase', help: 'Recovery phase (0 listing, 1 recovering, 2 notifying)', registers,
    collect() { this.set(recovery().phase); },
  });
  new Gauge({
    name: 'sheep_recovery_objects', help: 'Objects of the current recovery: total and done', labelNames: ['state'], registers,
    collect() {
      const v = recovery();
      this.set({ state: 'total' }, v.total);
      this.set({ state: 'done' }, v.done);
    },
  });

  if (s.store instanceof JournalStore) {
    const j = s.store;
    new Gauge({
      name: 'sheep_journal_bytes', help: 'The journal ring: size and bytes used by the current lap', labelNames: ['state'], registers,
      collect() {
        const u = j.usage();
        this.set({ state: 'size' }, u.size);
        this.set({ state: 'used' }, u.used);
      },
    });
  }

  if (s.cache) {
    const c = s.cache;
    new Counter({
      name: 'sheep_cache_reads_total', help: 'Object cache reads: hit (served from the cache) or miss (fetched)',
      labelNames: ['result'], registers,
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, c.hits);
        this.inc({ result: 'miss' }, c.misses);
      },
    });
    new Gauge({
      name: 'sheep_cache_bytes', help: 'Object cache contents: all bytes and dirty bytes', labelNames: ['state'], registers,
      collect() {
        let bytes = 0;
        let dirty = 0;
        for (const row of c.info()) {
          bytes += row.bytes;
          dirty += row.dirtyBytes;
        }
        this.set({ state: 'cached' }, bytes);
        this.set({ state: 'dirty' }, dirty);
      },
    });
  }
  return r;
}

/** The /metrics HTTP endpoint. */
export class MetricsServer {
  private constructor(private readonly srv: http.Server, private readonly s: MetricsDeps) {}

  /** Serve where --metrics says; undefined when it is off. */
  static async start(s: MetricsDeps): Promise<MetricsServer | undefined> {
    const at = s.opts.metrics;
    if (!at) return undefined;
    const registry = sheepRegistry(s);
    const srv = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
        return;
      }
      const timer = setTimeout(() => res.writeHead(503).end('scrape timed out\n'), SCRAPE_TIMEOUT_MS);
      registry.metrics().then((text) => {
        clearTimeout(timer);
        if (!res.headersSent) res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      }, (e: unknown) => {
        clearTimeout(timer);
        s.log.warn('metrics', `scrape failed: ${(e as Error).message}`);
        if (!res.headersSent) res.writeHead(500).end(`${(e as Error).message}\n`);
      });
    });
    await listenOn(srv, { host: at.host, port: at.port }, `metrics port ${at.host}:${at.port}`);
    s.log.info('metrics', `serving metrics on http://${at.host}:${at.port}/metrics`);
    return new MetricsServer(srv, s);
  }

  close(): void {
    this.s.stats.observer = undefined;
    this.srv.close();
    this.srv.closeAllConnections();
  }
}
