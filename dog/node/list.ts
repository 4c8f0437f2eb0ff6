/** dog node list: the members, in node order (cli.md §2.6.2). */
import { lpad, rpad } from '../../shared/cformat.js';
import { nodeAddrString, type SdNode } from '../../shared/node.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { out } from '../output.js';

export const NODE_LIST_HEADER = '  Id   Host:Port         V-Nodes       Zone\n';

/** One row: `%4d   %-20s\t%2d%11u`, or `id host:port vnodes zone` in raw mode. */
export function nodeListRow(id: number, n: SdNode, raw: boolean): string {
  const addr = nodeAddrString(n);
  const zone = n.zone >>> 0;
  if (raw) return `${id} ${addr} ${n.nrVnodes} ${zone}\n`;
  return `${rpad(id, 4)}   ${lpad(addr, 20)}\t${rpad(n.nrVnodes, 2)}${rpad(zone, 11)}\n`;
}

export function renderNodeList(nodes: readonly SdNode[], raw: boolean): string {
  return (raw ? '' : NODE_LIST_HEADER) + nodes.map((n, i) => nodeListRow(i, n, raw)).join('');
}

export async function run(dog: Dog): Promise<number> {
  out(renderNodeList(dog.nodes, dog.raw));
  return EXIT.SUCCESS;
}
