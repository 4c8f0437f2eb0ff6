/**
 * --metrics: Prometheus text at /metrics, scraped while I/O runs and while a
 * joining sheep recovers (throttled so the recovery lasts long enough to be
 * seen); the counters move.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePorts, TestCluster, waitFor } from '../lib/cluster.js';

let c: TestCluster;
let ports: number[];

type Samples = Map<string, number>;

async function scrape(port: number): Promise<Samples> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const out: Samples = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

const get = (m: Samples, key: string): number => {
  const v = m.get(key);
  if (v === undefined) assert.unreachable(`no sample ${key}`);
  return v!;
};

test.before(async () => {
  ports = await freePorts(3);
  c = await TestCluster.start({
    nodes: 2, copies: 2,
    sheepArgs: (i) => ['--metrics', String(ports[i]), ...(i === 2 ? ['-R', 'max=1,interval=700'] : []),
      ...(i === 1 ? ['-j', 'size=64M', '-w', 'size=32M'] : [])],
  });
});

test.after(async () => {
  await c?.cleanup();
});

test('a scrape during I/O: gateway and peer counters, bytes, latency and the store move', async () => {
  const before = await scrape(ports[0]!);
  assert.is(get(before, 'sheep_members'), 2);
  assert.ok(get(before, 'sheep_epoch') >= 1);
  assert.is(get(before, 'sheep_cluster_status'), 1);
  assert.ok(before.has('process_resident_memory_bytes'));
  assert.is((await c.dog(['vdi', 'create', 'm', '64M'])).code, 0);
  const data = Buffer.alloc(12 * 1024 * 1024, 0x5a);
  const writing = c.dog(['vdi', 'write', 'm', '0'], { input: data });
  const during = await scrape(ports[0]!);
  assert.is((await writing).code, 0);
  const after = await scrape(ports[0]!);
  for (const m of [during, after]) assert.ok(get(m, 'sheep_requests_total{class="gateway"}') >= get(before, 'sheep_requests_total{class="gateway"}'));
  assert.ok(get(after, 'sheep_object_requests_total{class="gateway",op="write"}') > get(before, 'sheep_object_requests_total{class="gateway",op="write"}'));
  assert.ok(get(after, 'sheep_bytes_total{class="gateway",direction="in"}') - get(before, 'sheep_bytes_total{class="gateway",direction="in"}') >= data.length);
  assert.ok(get(after, 'sheep_object_requests_total{class="peer",op="write"}') > get(before, 'sheep_object_requests_total{class="peer",op="write"}'));
  assert.ok(get(after, 'sheep_request_duration_seconds_count{class="gateway"}') > (before.get('sheep_request_duration_seconds_count{class="gateway"}') ?? 0));
  assert.ok(get(after, 'sheep_request_duration_seconds_bucket{le="+Inf",class="gateway"}') > 0);
  assert.ok(get(after, 'sheep_request_duration_seconds_count{class="cluster"}') > 0, 'vdi create is a cluster op');
  const disk = `{disk="${c.objDir(0)}"}`;
  assert.ok(get(after, `sheep_disk_objects${disk}`) >= 3, 'the inode and the data objects');
  assert.ok(get(after, `sheep_disk_used_bytes${disk}`) > get(before, `sheep_disk_used_bytes${disk}`));
  assert.ok(get(after, `sheep_disk_free_bytes${disk}`) > 0);
  // sheep 1 has a journal and an object cache
  const one = await scrape(ports[1]!);
  assert.is(get(one, 'sheep_journal_bytes{state="size"}'), 64 * 1024 * 1024);
  assert.ok(get(one, 'sheep_journal_bytes{state="used"}') > 0, 'the peer writes went through the journal');
  assert.is(get(one, 'sheep_cache_reads_total{result="hit"}'), 0);
  assert.ok(one.has('sheep_cache_bytes{state="dirty"}'));
  assert.not.ok(after.has('sheep_journal_bytes{state="size"}'), 'no journal, no journal metrics');
  const res = await fetch(`http://127.0.0.1:${ports[0]}/other`);
  assert.is(res.status, 404);
});

test('a scrape during a recovery: the joining sheep reports it running, then done', async () => {
  await c.startSheep(2);
  const seen = (await waitFor('the recovery to be seen running', async () => {
    const m = await scrape(ports[2]!).catch(() => undefined);
    return m && get(m, 'sheep_recovery_running') === 1 && get(m, 'sheep_recovery_objects{state="total"}') > 0 ? m : undefined;
  }, 30_000, 50))!;
  assert.is(get(seen, 'sheep_members'), 3);
  const total = get(seen, 'sheep_recovery_objects{state="total"}');
  const done = (await waitFor('the recovery to end', async () => {
    const m = await scrape(ports[2]!);
    return get(m, 'sheep_recovery_running') === 0 ? m : undefined;
  }, 60_000, 200))!;
  assert.ok(get(done, 'sheep_disk_objects' + `{disk="${c.objDir(2)}"}`) >= Math.min(total, 1));
  assert.ok(get(done, 'sheep_object_requests_total{class="peer",op="write"}') >= 0);
  // the others moved to the new epoch too
  const first = await scrape(ports[0]!);
  assert.is(get(first, 'sheep_epoch'), get(done, 'sheep_epoch'));
  assert.is(get(first, 'sheep_members'), 3);
});

test.run();
