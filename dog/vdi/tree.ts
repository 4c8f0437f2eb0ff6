/** dog vdi tree: every VDI as an ASCII tree (cli.md §2.7.8). */
import { isSnapshot } from '../../shared/inode.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { out, stdoutIsTTY } from '../output.js';
import { strftime } from '../../shared/ctime.js';
import { walkVdis } from './walk.js';

export interface TreeVdi {
  name: string;
  label: string;
  vid: number;
  parentVid: number;
  /** shown in bold (the working VDI, on a terminal) */
  highlight: boolean;
}

interface Node {
  v: TreeVdi;
  children: Node[];
}

const BOLD = '\x1b[1m';
const NORMAL = '\x1b[0m';

/**
 * The tree text. A VDI hangs under the VDI with its parent vid and the same
 * name; every other VDI starts a line of its own, after its name. Children are
 * in the order given (vid order).
 */
export function renderTree(vdis: readonly TreeVdi[]): string {
  const nodes = vdis.map((v) => ({ v, children: [] as Node[] }));
  const roots: Node[] = [];
  for (const n of nodes) {
    const parent = nodes.find((p) => p !== n && p.v.vid === n.v.parentVid && p.v.name === n.v.name);
    if (parent) parent.children.push(n);
    else roots.push(n);
  }
  let s = '';
  const label = (n: Node): string => (n.v.highlight ? `${BOLD}${n.v.label}${NORMAL}` : n.v.label);
  /** path: the text width of each level from the name (level 0) to `node`, and whether that level's node has later siblings */
  const walk = (node: Node, path: { w: number; later: boolean }[]): void => {
    const kids = node.children;
    if (kids.length === 0) {
      s += '\n';
      return;
    }
    const level = path.length - 1;
    kids.forEach((c, i) => {
      if (i === 0) {
        s += (kids.length === 1 ? '---' : '-+-') + label(c);
      } else {
        for (let k = 0; k < level; k++) s += ' '.repeat(path[k]!.w + 1) + (path[k + 1]!.later ? '| ' : '  ');
        s += ' '.repeat(path[level]!.w + 1) + (i === kids.length - 1 ? '`-' : '|-') + label(c);
      }
      walk(c, [...path, { w: c.v.label.length, later: i < kids.length - 1 }]);
    });
  };
  for (const r of roots) {
    s += `${r.v.name}---${label(r)}`;
    walk(r, [{ w: Buffer.byteLength(r.v.name), later: false }, { w: r.v.label.length, later: false }]);
  }
  return s;
}

export async function run(dog: Dog): Promise<number> {
  const highlight = stdoutIsTTY() && !dog.raw;
  const vdis: TreeVdi[] = [];
  const ok = await walkVdis(dog, false, ({ vid, header: h }) => {
    const snap = isSnapshot(h);
    vdis.push({
      name: h.name,
      label: snap ? strftime('[%Y-%m-%d %H:%M]', Number(h.createTime >> 32n)) : '(you are here)',
      vid, parentVid: h.parentVdiId, highlight: highlight && !snap,
    });
  });
  if (!ok) return EXIT.SYSFAIL;
  out(renderTree(vdis));
  return EXIT.SUCCESS;
}
