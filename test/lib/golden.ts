/**
 * Golden transcripts: `$ command` blocks with the original's verbatim
 * stdout+stderr and `[exit code: N]`, replayed through bash against a test
 * cluster. Dates, times, ports and paths are normalised on both sides.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DOG, freePorts, ROOT, run, SHEEP, TestCluster, type ClusterOptions } from './cluster.js';

export interface GoldenBlock {
  command: string;
  output: string;
  exitCode: number;
}

export function parseGolden(path: string): GoldenBlock[] {
  const text = readFileSync(path, 'utf8');
  const blocks: GoldenBlock[] = [];
  for (const raw of text.split(/\n(?=\$ )/)) {
    if (!raw.startsWith('$ ')) continue;
    const nl = raw.indexOf('\n');
    const command = raw.slice(2, nl < 0 ? undefined : nl);
    const body = nl < 0 ? '' : raw.slice(nl + 1);
    const m = /\[exit code: (\d+)\]\s*$/.exec(body);
    if (!m) throw new Error(`golden block without exit code: ${command}`);
    blocks.push({ command, output: body.slice(0, m.index), exitCode: Number(m[1]) });
  }
  return blocks;
}

/** Make dates, times and epoch seconds comparable. */
export function normalise(s: string): string {
  return s
    .replace(/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}\b/g, 'CTIME')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'DATETIME')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d/g, 'DATE')
    .replace(/\b1[6-9]\d{8}\b/g, 'SECONDS');
}

export interface Substitutions {
  /** the transcript's value -> ours, applied to commands; reversed on output */
  pairs: [string, string][];
}

/** The transcript's ports 7000.. and spare ports, and /srv/ref, mapped onto a test cluster. */
export function substitutionsFor(c: TestCluster, workDir: string, spare: Record<string, number>): Substitutions {
  // the reference's sheep ran in /srv/ref/run/N, ours in the cluster's N
  const pairs: [string, string][] = [['/srv/ref/run', c.root], ['/srv/ref', workDir]];
  c.ports.slice(0, 3).forEach((p, i) => pairs.push([String(7000 + i), String(p)]));
  for (const [theirs, ours] of Object.entries(spare)) pairs.push([theirs, String(ours)]);
  return { pairs };
}

function replaceAll(s: string, pairs: [string, string][]): string {
  let out = s;
  for (const [a, b] of pairs) out = out.split(a).join(b);
  return out;
}

/** Run one transcript command through bash with our dog and sheep first on PATH. */
export async function replay(b: GoldenBlock, c: TestCluster, subs: Substitutions, cwd: string): Promise<{ output: string; exitCode: number }> {
  const cmd = replaceAll(b.command, subs.pairs);
  const path = `${dirname(DOG)}:${dirname(SHEEP)}:${join(ROOT, 'sheepfs')}:${process.env.PATH}`;
  const r = await run('bash', ['-c', `cd '${cwd}' && { ${cmd} ; } 2>&1`], {
    env: { PATH: path, SHEEPDOG_DOG_PORT: String(c.port(0)), LANG: 'C' },
    timeoutMs: 120_000,
  });
  const back = subs.pairs.map(([a, b2]) => [b2, a] as [string, string]);
  return { output: replaceAll(r.out, back), exitCode: r.code };
}

/**
 * Sizes of disks, which are the machine's (the reference's 63 GB file system is
 * not ours): in the tab-separated tables of `node info` and `node md info`, and
 * the byte counts of their `-r` forms. The layout, the object counts and the
 * virtual image size stay compared.
 */
export function normaliseDiskSizes(s: string): string {
  return s.split('\n').map((line) => {
    if (!line.includes('\t') || line.startsWith('Total virtual image size')) {
      return /^(\d+|Total) \d+ \d+ \d+ \d+%/.test(line) ? line.replace(/\b\d{4,}\b/g, 'BYTES') : line;
    }
    return line.replace(/\d+(\.\d)? [KMGTP]B/g, 'SIZE').replace(/ +\d+%/g, ' PCT');
  }).join('\n');
}

/**
 * Which of the cluster's nodes holds an object hashes their ports, and ours
 * are not the reference's 7000-7002: in `vdi object location` and `vdi track`
 * output the nodes become NODE and the lines are compared as a set (the
 * placement itself is checked against the reference ring in unit/hash-placement).
 */
export function normaliseNodeOrder(s: string): string {
  if (!/has the object|locations at epoch/.test(s)) return s;
  return s.replace(/127\.0\.0\.1:\d+/g, 'NODE').split('\n').sort().join('\n');
}

export interface GoldenOptions {
  /** more normalisation of both sides, after the dates */
  normalise?: (s: string) => string;
  /**
   * The reference output of a command as this project prints it on purpose
   * (a difference README's "Differences from Sheepdog 1.0" lists); the rest of
   * the block stays compared byte for byte.
   */
  expected?: (command: string, output: string) => string;
}

/**
 * Register one uvu test per block of a golden transcript (test/golden/NAME),
 * replayed on a fresh 3-sheep cluster started with `options`.
 */
export function goldenSuite(file: string, options: ClusterOptions, golden: GoldenOptions = {}): void {
  const norm = (s: string) => (golden.normalise ?? ((x: string) => x))(normalise(s));
  const blocks = parseGolden(join(ROOT, 'test/golden', file));
  let cluster: TestCluster;
  let work: string;
  let subs: Substitutions;

  test.before(async () => {
    cluster = await TestCluster.start(options);
    work = mkdtempSync(join(tmpdir(), 'sheepdog-golden-'));
    const [refused, spare] = await freePorts(2);
    subs = substitutionsFor(cluster, work, { 7999: refused!, 7011: spare! });
  });

  test.after(async () => {
    await cluster?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  blocks.forEach((b, i) => {
    test(`#${i} $ ${b.command.slice(0, 80)}`, async () => {
      const r = await replay(b, cluster, subs, work);
      const expected = golden.expected ? golden.expected(b.command, b.output) : b.output;
      assert.fixture(norm(r.output), norm(expected));
      assert.is(r.exitCode, b.exitCode, `exit code of: ${b.command}`);
    });
  });

  test.run();
}
