/** dog node list: the members, in node order (cli.md §2.6.2). */
import { nodeListJson, renderNodeList } from '../../shared/report-text.js';
import type { Dog } from '../context.js';
import { EXIT } from '../exit.js';
import { printJson } from '../json.js';
import { out } from '../output.js';




export async function run(dog: Dog): Promise<number> {
  if (dog.json) printJson(nodeListJson(dog.nodes));
  else out(renderNodeList(dog.nodes, dog.raw));
  return EXIT.SUCCESS;
}
