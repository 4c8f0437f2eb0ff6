/** dog vdi graph: the VDI family tree in Graphviz dot (cli.md §2.7.9). */
import { isSnapshot } from '../../shared/inode.js';
import { formatSize } from '../../shared/size.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { out } from '../output.js';
import { padStartBytes } from '../../shared/report-text.js';
import { strftime } from '../../shared/ctime.js';
import { walkVdis, type VdiInfo } from './walk.js';

export const GRAPH_HEADER = 'digraph G {\n  node [shape = "box", fontname = "Courier"];\n\n  "0" [shape = "ellipse", label = "root"];\n\n';

export function graphNode(v: VdiInfo): string {
  const h = v.header;
  const secs = Number(h.createTime >> 32n);
  const snapid = isSnapshot(h) ? h.snapId : 0;
  const vid = v.vid.toString(16);
  return `  "${h.parentVdiId.toString(16)}" -> "${vid}";\n` +
    `  "${vid}" [\n    group = "${h.name}",\n    label = "` +
    `Name: ${padStartBytes(h.name, 10)}\\n` +
    `Tag:  ${snapid.toString(16).padStart(10)}\\n` +
    `Size: ${formatSize(v.vdiSize).padStart(10)}\\n` +
    `Date: ${strftime('%Y-%m-%d', secs).padStart(10)}\\n` +
    `Time: ${strftime('%H:%M:%S', secs).padStart(10)}` +
    (isSnapshot(h) ? '"\n  ];\n\n' : '",\n    color="red"\n  ];\n\n');
}

export async function run(dog: Dog): Promise<number> {
  out(GRAPH_HEADER);
  const ok = await walkVdis(dog, false, (v) => out(graphNode(v)));
  if (!ok) return EXIT.SYSFAIL;
  out('}\n');
  return EXIT.SUCCESS;
}
