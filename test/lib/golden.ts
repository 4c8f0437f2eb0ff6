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
  const pairs: [string, string][] = [['/srv/ref', workDir]];
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
  const path = `${dirname(DOG)}:${dirname(SHEEP)}:${process.env.PATH}`;
  const r = await run('bash', ['-c', `cd '${cwd}' && { ${cmd} ; } 2>&1`], {
    env: { PATH: path, SHEEPDOG_DOG_PORT: String(c.port(0)), LANG: 'C' },
    timeoutMs: 120_000,
  });
  const back = subs.pairs.map(([a, b2]) => [b2, a] as [string, string]);
  return { output: replaceAll(r.out, back), exitCode: r.code };
}

/**
 * Register one uvu test per block of a golden transcript (test/golden/NAME),
 * replayed on a fresh 3-sheep cluster started with `options`.
 */
export function goldenSuite(file: string, options: ClusterOptions): void {
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
      assert.fixture(normalise(r.output), normalise(b.output));
      assert.is(r.exitCode, b.exitCode, `exit code of: ${b.command}`);
    });
  });

  test.run();
}
