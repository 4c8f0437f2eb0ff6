/**
 * Deleting the members of a snapshot/clone family in every order (24 orders of
 * two snapshots, the working VDI and a clone, one family per order; the two
 * vdi-delete-*.test.ts files take half each, to stay well inside the time bound
 * of a test file on a busy machine): after each
 * deletion, every node's obj/ holds exactly the data objects some survivor's
 * index still names (nothing leaked, nothing a survivor needs freed), ledger
 * objects go with their data objects, and every survivor still reads what it
 * held (sha256 over the whole volume).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { oidHex, vidToDataOid } from '../../shared/oid.js';
import { TestCluster, waitFor, type RunResult } from '../lib/cluster.js';

const MiB = 1024 * 1024;
/** 1 MiB objects (-z 20) keep copy-on-write copies small */
const OBJ = MiB;
const SIZE = 8 * MiB;
const PIECE = 4096;
const NODES = 3;
/** Families run at once, two workers per sheep, so that every gateway gets its share of the work. */
const PARALLEL = 2 * NODES;
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
  /** the writes each member's contents are made of, in order */
  readonly pieces = new Map<Member, [number, Buffer][]>();
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

  /**
   * One dog write of PIECE bytes either side of the boundary at the start of
   * slot `from + 1`, so that it lands in slots `from` and `from + 1`.
   */
  private async write(m: Member, vdi: string, from: number): Promise<void> {
    const off = (from + 1) * OBJ - PIECE;
    const data = randomBytes(2 * PIECE);
    await this.dog(['vdi', 'write', vdi, String(off), String(data.length)], data);
    this.owners.get(m)!.set(from, m).set(from + 1, m);
    this.pieces.get(m)!.push([off, data]);
  }

  private inherit(to: Member, from: Member): void {
    this.owners.set(to, new Map(this.owners.get(from)));
    this.pieces.set(to, [...this.pieces.get(from)!]);
  }

  /**
   * The history (owner of each slot, '-' for none):
   *   a     = a a a - - -     (a write over slots 0-1, another over 1-2)
   *   b     = a a b b - -     (copy-on-write of slot 2)
   *   live  = a a b l l -     (copy-on-write of slot 3 from b)
   *   clone = c c a - - -     (cloned from a; copy-on-write of slots 0 and 1)
   */
  async build(): Promise<void> {
    await this.dog(['vdi', 'create', '-z', '20', this.name, String(SIZE)]);
    this.owners.set('a', new Map());
    this.pieces.set('a', []);
    await this.write('a', this.name, 0);
    await this.write('a', this.name, 1);
    await this.dog(['vdi', 'snapshot', '-s', 'a', this.name]);
    this.inherit('b', 'a');
    await this.write('b', this.name, 2);
    await this.dog(['vdi', 'snapshot', '-s', 'b', this.name]);
    this.inherit('live', 'b');
    await this.write('live', this.name, 3);
    await this.dog(['vdi', 'clone', '-s', 'a', this.name, this.clone]);
    this.inherit('clone', 'a');
    await this.write('clone', this.clone, 0);
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
    for (const [off, data] of this.pieces.get(m)!) data.copy(b, off);
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

async function checkSurvivors(f: Family, survivors: Member[], step: string, read = true): Promise<void> {
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
  for (const m of read ? survivors : []) {
    const r = await f.dog(['vdi', 'read', ...f.sel(m)]);
    assert.is(sha(r.stdout), sha(f.image(m)), `${f.name} ${step}: ${m} reads what it held`);
  }
}

async function runOrder(k: number, order: Member[], via: number): Promise<void> {
  const f = new Family(`fam${k}`, via);
  await f.build();
  let survivors = [...MEMBERS];
  // (what every member reads is checked after each deletion)
  await checkSurvivors(f, survivors, 'before deleting', false);
  for (const m of order) {
    await f.dog(['vdi', 'delete', ...f.sel(m)]);
    survivors = survivors.filter((s) => s !== m);
    await checkSurvivors(f, survivors, `after deleting ${order.slice(0, order.indexOf(m) + 1).join(',')}`);
  }
  for (let i = 0; i < NODES; i++) assert.equal(f.onDisk(i, true), [], `${f.name}: no ledger left on sheep ${i}`);
  const left = (await f.dog(['vdi', 'list', '-r'])).out.split('\n').filter((l) => [f.name, f.clone].includes(l.split(' ')[1] ?? ''));
  assert.equal(left, [], `${f.name}: nothing listed`);
}

/** A uvu suite deleting the families of orders [from, to) of the 24. */
export function deletionOrders(from: number, to: number): void {
  const test = suite(`deletion orders ${from}..${to - 1}`);

  test.before(async () => {
    c = await TestCluster.start({ nodes: NODES, copies: NODES });
  });

  test.after(async () => {
    await c?.cleanup();
  });

  test('each deletion order frees exactly the objects nothing references and keeps the survivors intact', async () => {
    const orders = permutations(MEMBERS);
    assert.is(orders.length, 24);
    let next = from;
    const worker = async (via: number) => {
      while (next < to) {
        const k = next++;
        await runOrder(k, orders[k]!, via);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, (_, w) => worker(w % NODES)));
  });

  test.run();
}
