/**
 * What a hyper volume's B-tree costs a writer: `dog vdi write` of the same
 * data into a flat VDI (the baseline, same run), a hyper volume whose tree
 * stays in the inode, and a hyper volume whose tree needs its second level
 * (leaves of 16 entries through SHEEPDOG_TEST_BTREE_LEAF_ENTRIES, so that a
 * few hundred MiB reach it). Each write is then read back and compared.
 *
 * Run: npm run build && node build/test/bench/hyper-index.js [size in MiB, default 256] [rounds, default 3]
 */
import { createHash, randomBytes } from 'node:crypto';
import { TestCluster } from '../lib/cluster.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 3);

async function main(): Promise<void> {
  const c = await TestCluster.start({ nodes: 3, copies: 2 });
  try {
    const data = randomBytes(sizeMiB * MiB);
    const want = createHash('sha256').update(data).digest('hex');
    const kinds = [
      { name: 'flat', create: [] as string[], leaf: undefined as string | undefined },
      { name: 'hyper, one level', create: ['-y'], leaf: undefined },
      { name: 'hyper, two levels (16-entry leaves)', create: ['-y'], leaf: '16' },
    ];
    const secs = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      // each round in another order, so that no kind always goes first
      for (const k of [...kinds.slice(r % kinds.length), ...kinds.slice(0, r % kinds.length)]) {
        const vdi = `v${r}-${kinds.indexOf(k)}`;
        await c.dogOk(['vdi', 'create', ...k.create, vdi, `${sizeMiB}M`]);
        if (k.leaf) process.env.SHEEPDOG_TEST_BTREE_LEAF_ENTRIES = k.leaf;
        const t0 = process.hrtime.bigint();
        await c.dogOk(['vdi', 'write', vdi], { input: data, timeoutMs: 600_000 });
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        delete process.env.SHEEPDOG_TEST_BTREE_LEAF_ENTRIES;
        const back = (await c.dogOk(['vdi', 'read', vdi], { timeoutMs: 600_000 })).stdout;
        if (createHash('sha256').update(back).digest('hex') !== want) throw new Error(`${k.name}: read back differs`);
        await c.dogOk(['vdi', 'delete', vdi]);
        secs.set(k.name, [...(secs.get(k.name) ?? []), s]);
      }
    }
    const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const base = median(secs.get('flat')!);
    console.log(`dog vdi write of ${sizeMiB} MiB, 3 sheep, copies 2, median of ${rounds} rounds`);
    for (const k of kinds) {
      const m = median(secs.get(k.name)!);
      console.log(`${k.name.padEnd(38)} ${(sizeMiB / m).toFixed(1).padStart(7)} MiB/s  ${(m / base).toFixed(2)}x flat's time`);
    }
  } finally {
    await c.cleanup();
  }
}

await main();
