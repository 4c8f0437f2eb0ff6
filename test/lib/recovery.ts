/**
 * What fault tests check after recovery: where every object's copies are on
 * disk, and that no sheep is still recovering.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { waitFor, type TestCluster } from './cluster.js';

export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Object file name -> the sheep indices holding it live (not in .stale). */
export function objectHolders(cluster: TestCluster, sheep: readonly number[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const i of sheep) {
    const dir = cluster.objDir(i);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!/^[0-9a-f]{16}(_\d+)?$/.test(name)) continue;
      out.set(name, [...(out.get(name) ?? []), i]);
    }
  }
  return out;
}

/** Names of stale copies still kept by sheep i. */
export function staleCopies(cluster: TestCluster, i: number): string[] {
  const dir = join(cluster.objDir(i), '.stale');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/**
 * Wait until no listed sheep reports a recovery in progress (`dog node
 * recovery` prints just its two header lines) and stale copies are gone,
 * which happens once every member has reported completion.
 */
export async function waitRecovered(cluster: TestCluster, sheep: readonly number[], timeoutMs = 90_000): Promise<void> {
  await waitFor('recovery to finish on every sheep', async () => {
    for (const i of sheep) {
      const r = await cluster.dog(['node', 'recovery'], { port: cluster.port(i) });
      if (r.code !== 0 || r.out.trim().split('\n').length !== 2) return false;
    }
    return sheep.every((i) => staleCopies(cluster, i).length === 0);
  }, timeoutMs, 250);
}

/** Read a whole VDI through dog. */
export async function readVdi(cluster: TestCluster, name: string, port?: number): Promise<Buffer> {
  const r = await cluster.dog(['vdi', 'read', name], { port, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`vdi read ${name}: ${r.stderr}`);
  return r.stdout;
}
