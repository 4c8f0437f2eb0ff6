/**
 * `dog ... --format json` against a real cluster: every command that has it
 * prints one document that jq parses, with the fields man/dog.8 documents and
 * the same facts as the text (and -r) output; the text is unchanged by the
 * option's existence; abbreviations of older long options keep their meaning.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestCluster, run, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
let c: TestCluster;

const dog = (args: string[], input?: Buffer | string): Promise<RunResult> => c.dogOk(args, { input });

/** jq FILTER over dog's JSON output, parsed back (jq -c: one value per line). */
async function jq(args: string[], filter = '.'): Promise<unknown> {
  const r = await dog([...args, '--format', 'json']);
  const q = await run('jq', ['-c', filter], { input: r.stdout });
  assert.is(q.code, 0, `jq ${filter} on dog ${args.join(' ')}: ${q.stderr}\n${r.out}`);
  return JSON.parse(q.out);
}

test.before(async () => {
  c = await TestCluster.start({ nodes: 3, copies: 2 });
  await dog(['vdi', 'create', 'v', String(16 * MiB)]);
  await dog(['vdi', 'write', 'v', '0', String(4 * MiB)], Buffer.alloc(4 * MiB, 1));
  await dog(['vdi', 'snapshot', '-s', 'one', 'v']);
  await dog(['vdi', 'clone', '-s', 'one', 'v', 'w']);
});

test.after(async () => {
  await c?.cleanup();
});

test('vdi list: one entry per VDI, sizes in bytes, as -r says', async () => {
  const list = await jq(['vdi', 'list']) as Record<string, unknown>[];
  assert.is(list.length, 3);
  const raw = (await dog(['vdi', 'list', '-r'])).out.trim().split('\n').map((l) => l.split(' '));
  for (const [i, f] of raw.entries()) {
    const j = list[i]!;
    assert.is(j.name, f[1]);
    assert.is(j.snap_id, Number(f[2]));
    assert.is(j.size, Number(f[3]));
    assert.is(j.used, Number(f[4]));
    assert.is(j.shared, Number(f[5]));
    assert.is(j.creation_time, Number(f[6]));
    assert.is(j.vdi_id, f[7]);
    assert.is(j.redundancy, f[8]);
    assert.is(j.block_size_shift, Number(f[10]));
  }
  assert.equal(list.map((v) => v.type).sort(), ['clone', 'snapshot', 'vdi']);
  assert.equal(await jq(['vdi', 'list', 'w'], 'map(.name)'), ['w']);
  assert.equal(await jq(['vdi', 'list'], 'map(select(.type == "snapshot") | .used)'), [4 * MiB]);
});

test('node list and node info', async () => {
  const nodes = await jq(['node', 'list']) as Record<string, unknown>[];
  assert.equal(nodes.map((n) => n.port), c.ports.slice(0, 3).sort((a, b) => a - b));
  assert.equal(nodes.map((n) => n.id), [0, 1, 2]);
  assert.ok(nodes.every((n) => n.host === '127.0.0.1' && typeof n.vnodes === 'number' && typeof n.zone === 'number'));
  const info = await jq(['node', 'info']) as { nodes: Record<string, number>[]; total: Record<string, number>; vdi_size_total: number };
  assert.is(info.nodes.length, 3);
  for (const n of info.nodes) assert.is(n.size, n.used! + n.avail!);
  assert.is(info.total.size, info.nodes.reduce((s, n) => s + n.size!, 0));
  assert.is(info.vdi_size_total, 32 * MiB);
});

test('node recovery and node md info', async () => {
  const rec = await jq(['node', 'recovery']) as Record<string, unknown>[];
  assert.is(rec.length, 3);
  assert.ok(rec.every((n) => n.in_recovery === false && typeof n.total === 'number'));
  assert.equal(await jq(['node', 'recovery', 'info'], 'length'), 3);
  const md = await jq(['node', 'md', 'info']) as { port: number; disks: Record<string, unknown>[] }[];
  assert.is(md.length, 1);
  assert.is(md[0]!.port, c.port(0));
  assert.is(md[0]!.disks.length, 1);
  assert.is(md[0]!.disks[0]!.path, c.objDir(0));
  assert.equal(await jq(['node', 'md', 'info', '-A'], 'map(.disks | length)'), [1, 1, 1]);
});

test('cluster info', async () => {
  const info = await jq(['cluster', 'info']) as Record<string, unknown> & { epochs: { epoch: number; nodes: unknown[] }[] };
  assert.is(info.status, 'running');
  assert.is(info.auto_recovery, true);
  assert.is(info.copies, 2);
  assert.is(info.redundancy, '2');
  assert.is(info.store, 'plain');
  assert.ok(info.epochs.length >= 1);
  assert.is(info.epochs[0]!.nodes.length, 3);
  const raw = (await dog(['cluster', 'info', '-r'])).out.trim().split('\n');
  assert.is(info.epochs.length, raw.length - 2);
});

test('vdi object location and vdi track', async () => {
  const loc = await jq(['vdi', 'object', 'location', 'v']) as Record<string, unknown> & { holders: { has_object: boolean }[]; expected: unknown[] };
  assert.is(loc.allocated, true);
  assert.is(loc.copies, 2);
  assert.is(loc.holders.filter((h) => h.has_object).length, 2);
  assert.is(loc.expected.length, 2);
  const data = await jq(['vdi', 'object', 'location', '-i', '0', 'v']) as Record<string, unknown>;
  assert.is(data.index, 0);
  assert.is(data.allocated, true);
  assert.equal(await jq(['vdi', 'object', 'location', '-i', '3', 'v'], '.allocated'), false);
  const tr = await jq(['vdi', 'track', '-i', '0', 'v']) as Record<string, unknown> & { epochs: { locations: unknown[] }[] };
  assert.is(tr.index, 0);
  assert.is(tr.oid, data.oid);
  assert.ok(tr.epochs.length >= 1 && tr.epochs.every((e) => e.locations.length === 2));
  // map has no JSON form: a clear refusal, not text where JSON was asked for
  const map = await c.dog(['vdi', 'object', 'map', 'v', '--format', 'json']);
  assert.is(map.code, 64);
  assert.is(map.out, '');
});

test('cluster check: one entry per VDI with what was fixed', async () => {
  const check = await jq(['cluster', 'check']) as { name: string; status: string; fixed: unknown[] }[];
  assert.equal(check.map((v) => v.name).sort(), ['v', 'v', 'w']);
  assert.ok(check.every((v) => v.status === 'checked' && v.fixed.length === 0));
});

test('--format is long-only, exact, and text stays text', async () => {
  assert.is((await c.dog(['node', 'list', '--format', 'yaml'])).code, 64);
  assert.is((await c.dog(['node', 'list', '--form', 'json'])).code, 64);
  const text = await dog(['node', 'list']);
  assert.is((await dog(['node', 'list', '--format', 'text'])).out, text.out);
  assert.ok(text.out.startsWith('  Id   Host:Port'));
  // an abbreviation of --force means --force as before
  const md = await c.dog(['node', 'md', 'plug', '--for', '/nonexistent']);
  assert.not.match(md.stderr, /ambiguous/);
  // commands without a JSON form do not accept the option at all
  assert.is((await c.dog(['vdi', 'tree', '--format', 'json'])).code, 64);
});

test.run();
