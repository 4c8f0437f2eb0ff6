/**
 * Deleting the members of a snapshot/clone family in every order (24 orders of
 * two snapshots, the working VDI and a clone, one family per order): after each
 * deletion, every node's obj/ holds exactly the data objects some survivor's
 * index still names (nothing leaked, nothing a survivor needs freed), ledger
 * objects go with their data objects, and every survivor still reads what it
 * held (sha256 over the whole volume).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { oidHex, vidToDataOid } from '../../shared/oid.js';
import { TestCluster, waitFor, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
/** 1 MiB objects (-z 20) keep copy-on-write copies small */
const OBJ = MiB;
const SIZE = 8 * MiB;
const PIECE = 4096;
const NODES = 3;
/** Families run at once, one worker per sheep, so that every gateway gets its share of the work. */
const PARALLEL = NODES;
let c: TestCluster;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

type Member = 'a' | 'b' | 'live' | 'clone';
const MEMBERS: Member[] = ['a', 'b', 'live', 'clone'];

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

async function dog(args: string[], input?: Buffer, via = 0): Promise<RunResult> {
  const r = await c.dog(args, { input, port: c.port(via) });
  assert.is(r.code, 0, `dog ${args.join(' ')} -> ${r.code}: ${r.stderr}`);
  return r;
}

/** One family: per member, its slot -> owner member map and its slot contents. */
class Family {
  readonly owners = new Map<Member, Map<number, Member>>();
  readonly pieces = new Map<Member, Map<number, Buffer>>();
  readonly vid = new Map<Member, number>();

  constructor(readonly name: string, readonly via: number) {}

  dog(args: string[], input?: Buffer): Promise<RunResult> {
    return dog(args, input, this.via);
  }

  get clone(): string {
    return `${this.name}c`;
  }

  /** dog arguments that select a member for read/delete */
  sel(m: Member): string[] {
    if (m === 'a') return ['-s', 'a', this.name];
    if (m === 'b') return ['-s', 'b', this.name];
    return [m === 'live' ? this.name : this.clone];
  }

  private async write(m: Member, vdi: string, slots: number[]): Promise<void> {
    for (const i of slots) {
      const data = randomBytes(PIECE);
      await this.dog(['vdi', 'write', vdi, String(i * OBJ + 100), String(PIECE)], data);
      this.owners.get(m)!.set(i, m);
      this.pieces.get(m)!.set(i, data);
    }
  }

  private inherit(to: Member, from: Member): void {
    this.owners.set(to, new Map(this.owners.get(from)));
    this.pieces.set(to, new Map(this.pieces.get(from)));
  }

  /** The history: the working VDI's objects are 'a', 'b' and 'live' as it moves along. */
  async build(): Promise<void> {
    await this.dog(['vdi', 'create', '-z', '20', this.name, String(SIZE)]);
    this.owners.set('a', new Map());
    this.pieces.set('a', new Map());
    await this.write('a', this.name, [0, 1, 2]);
    await this.dog(['vdi', 'snapshot', '-s', 'a', this.name]);
    this.inherit('b', 'a');
    await this.write('b', this.name, [1, 3]);
    await this.dog(['vdi', 'snapshot', '-s', 'b', this.name]);
    this.inherit('live', 'b');
    await this.write('live', this.name, [2, 4]);
    await this.dog(['vdi', 'clone', '-s', 'a', this.name, this.clone]);
    this.inherit('clone', 'a');
    await this.write('clone', this.clone, [0, 5]);
    for (const line of (await this.dog(['vdi', 'list', '-r'])).out.trim().split('\n')) {
      const f = line.split(' ');
      const vid = parseInt(f[7]!, 16);
      if (f[1] === this.name) this.vid.set(f[2] === '1' ? 'a' : f[2] === '2' ? 'b' : 'live', vid);
      else if (f[1] === this.clone) this.vid.set('clone', vid);
    }
    assert.is(this.vid.size, 4, `vids of ${this.name}: ${[...this.vid]}`);
  }

  image(m: Member): Buffer {
    const b = Buffer.alloc(SIZE);
    for (const [i, data] of this.pieces.get(m)!) data.copy(b, i * OBJ + 100);
    return b;
  }

  /** Data object file names the survivors' indexes name. */
  expectedData(survivors: Member[]): string[] {
    const names = new Set<string>();
    for (const m of survivors) {
      for (const [i, owner] of this.owners.get(m)!) names.add(oidHex(vidToDataOid(this.vid.get(owner)!, i)));
    }
    return [...names].sort();
  }

  private prefixes(ledger: boolean): string[] {
    return [...this.vid.values()].map((v) => (ledger ? '08' : '00') + v.toString(16).padStart(6, '0'));
  }

  /** This family's data (or ledger) object files on sheep i. */
  onDisk(i: number, ledger: boolean): string[] {
    const pre = this.prefixes(ledger);
    return readdirSync(c.objDir(i)).filter((n) => pre.some((p) => n.startsWith(p)) && !n.endsWith('.tmp')).sort();
  }
}

async function checkSurvivors(f: Family, survivors: Member[], step: string): Promise<void> {
  const want = f.expectedData(survivors);
  for (let i = 0; i < NODES; i++) {
    await waitFor(`${f.name} ${step}: sheep ${i} holds exactly ${want.length} data objects`, () => {
      return f.onDisk(i, false).join(' ') === want.join(' ');
    }, 15_000).catch(() => {
      assert.equal(f.onDisk(i, false), want, `${f.name} ${step}: data objects on sheep ${i}`);
    });
    // a ledger exists only beside a data object that is still there
    const ledgers = f.onDisk(i, true).map((n) => `00${n.slice(2)}`);
    for (const l of ledgers) assert.ok(want.includes(l), `${f.name} ${step}: ledger without its object ${l} on sheep ${i}`);
  }
  for (const m of survivors) {
    const r = await f.dog(['vdi', 'read', ...f.sel(m)]);
    assert.is(sha(r.stdout), sha(f.image(m)), `${f.name} ${step}: ${m} reads what it held`);
  }
}

async function runOrder(k: number, order: Member[], via: number): Promise<void> {
  const f = new Family(`fam${k}`, via);
  await f.build();
  let survivors = [...MEMBERS];
  await checkSurvivors(f, survivors, 'before deleting');
  for (const m of order) {
    await f.dog(['vdi', 'delete', ...f.sel(m)]);
    survivors = survivors.filter((s) => s !== m);
    await checkSurvivors(f, survivors, `after deleting ${order.slice(0, order.indexOf(m) + 1).join(',')}`);
  }
  for (let i = 0; i < NODES; i++) assert.equal(f.onDisk(i, true), [], `${f.name}: no ledger left on sheep ${i}`);
  const left = (await f.dog(['vdi', 'list', '-r'])).out.split('\n').filter((l) => [f.name, f.clone].includes(l.split(' ')[1] ?? ''));
  assert.equal(left, [], `${f.name}: nothing listed`);
}

test.before(async () => {
  c = await TestCluster.start({ nodes: NODES, copies: NODES });
});

test.after(async () => {
  await c?.cleanup();
});

test('every deletion order frees exactly the objects nothing references and keeps the survivors intact', async () => {
  const orders = permutations(MEMBERS);
  assert.is(orders.length, 24);
  let next = 0;
  const worker = async (via: number) => {
    while (next < orders.length) {
      const k = next++;
      await runOrder(k, orders[k]!, via);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, (_, via) => worker(via)));
});

test.run();
