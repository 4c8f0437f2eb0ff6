/**
 * The package's import graph: no circle anywhere (type imports count: a type
 * circle ties the files together for a reader as much as a value one), and
 * shared/ imports none of the programs. Reads the TypeScript sources.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SOURCE_DIRS = ['shared', 'sheep', 'dog', 'sheepfs', 'test'];
const PROGRAMS = ['sheep', 'dog', 'sheepfs'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'node_modules' && name !== 'build') out.push(...sources(p));
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      out.push(p);
    }
  }
  return out;
}

/** import/export ... from '...', import '...', import('...'): relative specifiers only. */
const SPECIFIER = /(?:\b(?:import|export)\s[^;]*?\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Relative imports of each file, as repository paths of .ts files. */
export function importGraph(root: string, dirs: readonly string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const d of dirs) {
    if (!existsSync(join(root, d))) continue;
    for (const file of sources(join(root, d))) {
      const text = readFileSync(file, 'utf8');
      const deps: string[] = [];
      for (const m of text.matchAll(SPECIFIER)) {
        const target = normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts');
        if (existsSync(target)) deps.push(relative(root, target));
      }
      g.set(relative(root, file), deps);
    }
  }
  return g;
}

/** Strongly connected components of more than one file, or of one file importing itself (Tarjan). */
export function circles(g: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('the detector finds a circle, type imports included', () => {
  const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
  assert.equal(circles(g), [['a.ts', 'b.ts', 'c.ts']]);
  assert.equal(circles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
  const specs = [..."import type { X } from './x.js';\nexport { y } from '../y.js';\nawait import('./z.js');".matchAll(SPECIFIER)].map((m) => m[1]);
  assert.equal(specs, ['./x.js', '../y.js', './z.js']);
});

test('no import circle in the package', () => {
  const g = importGraph(ROOT, SOURCE_DIRS);
  assert.ok(g.size > 100, `read ${g.size} source files`);
  const found = circles(g);
  assert.equal(found.map((c) => `${c.length} files: ${c.join(' ')}`), []);
});

test('shared/ imports none of the programs', () => {
  const g = importGraph(ROOT, ['shared']);
  const bad: string[] = [];
  for (const [file, deps] of g) {
    for (const d of deps) if (PROGRAMS.some((p) => d.startsWith(`${p}/`))) bad.push(`${file} -> ${d}`);
  }
  assert.equal(bad, []);
});

test.run();
