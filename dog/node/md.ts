/** dog node md info [-A] | plug <paths> | unplug <paths> [-f] (cli.md §2.6.6). */
import { nodeAddrString } from '../../shared/node.js';
import { SD_FLAG } from '../../shared/proto/flags.js';
import { SdHeader } from '../../shared/proto/header.js';
import { decodeMdInfo, MD_INFO_SIZE, type MdDisk } from '../../shared/proto/md-info.js';
import { SD_OP } from '../../shared/proto/opcodes.js';
import { SD_RES, resultText } from '../../shared/proto/results.js';
import { formatSize } from '../../shared/size.js';
import type { Dog, Target } from '../context.js';
import { EXIT } from '../exit.js';
import { err, out } from '../output.js';
import { banner, confirm } from '../prompt.js';
import { printJson } from '../json.js';
import { nodeJson } from '../../shared/report-text.js';


const diskUsePercent = (d: MdDisk): number => {
  const size = d.free + d.used;
  return size === 0n ? 0 : Math.trunc((Number(d.used) / Number(size)) * 100);
};

export function mdRow(d: MdDisk, raw: boolean, node: string): string {
  const size = d.free + d.used;
  const pct = diskUsePercent(d);
  if (raw) return `${node} ${d.idx} ${size} ${d.used} ${d.free} ${pct}% ${d.path}\n`;
  return `${String(d.idx).padStart(2)}\t${formatSize(size)}\t${formatSize(d.used)}\t${formatSize(d.free)}\t${String(pct).padStart(3)}%\t${d.path}\n`;
}

/** One disk in `node md info --format json`. */
export function mdJson(d: MdDisk): Record<string, unknown> {
  return { id: d.idx, size: d.free + d.used, used: d.used, avail: d.free, use_percent: diskUsePercent(d), path: d.path };
}

async function mdDisks(dog: Dog, to: Target): Promise<MdDisk[] | undefined> {
  const r = await dog.exec(SdHeader.request(SD_OP.MD_INFO, 0, MD_INFO_SIZE), undefined, to);
  if (!r) return undefined;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err(`failed to get multi-disk information: ${resultText(r.hdr.result)}`);
    return undefined;
  }
  return decodeMdInfo(r.data);
}

async function mdInfoOf(dog: Dog, to: Target, node: string): Promise<boolean> {
  const disks = await mdDisks(dog, to);
  for (const d of disks ?? []) out(mdRow(d, dog.raw, node));
  return disks !== undefined;
}

/** `--format json`: the target node, or every node with -A, each with its disks. */
async function mdInfoJson(dog: Dog): Promise<number> {
  const targets = dog.opts.all
    ? dog.nodes.map((n, id) => ({ id, to: dog.nodeTarget(n), node: nodeJson(n) }))
    : [{ id: undefined, to: dog.target, node: { host: dog.target.host, port: dog.target.port } }];
  const nodes: Record<string, unknown>[] = [];
  for (const t of targets) {
    const disks = await mdDisks(dog, t.to);
    if (!disks) return EXIT.FAILURE;
    nodes.push({ id: t.id, ...t.node, disks: disks.map(mdJson) });
  }
  printJson(nodes);
  return EXIT.SUCCESS;
}

export const info = {
  async run(dog: Dog): Promise<number> {
    if (dog.json) return mdInfoJson(dog);
    if (!dog.raw) out('Id\tSize\tUsed\tAvail\tUse%\tPath\n');
    if (!dog.opts.all) {
      return (await mdInfoOf(dog, dog.target, `${dog.target.host}:${dog.target.port}`)) ? EXIT.SUCCESS : EXIT.FAILURE;
    }
    for (const [i, n] of dog.nodes.entries()) {
      if (!dog.raw) out(`Node ${i}:\n`);
      if (!(await mdInfoOf(dog, dog.nodeTarget(n), nodeAddrString(n)))) return EXIT.FAILURE;
    }
    return EXIT.SUCCESS;
  },
};

async function plugUnplug(dog: Dog, args: string[], opcode: number, caution: string): Promise<number> {
  if (!dog.opts.force) confirm(banner('', caution, 'Are you sure you want to continue?'));
  const payload = Buffer.concat([Buffer.from(args[0] ?? '', 'utf8'), Buffer.alloc(1)]);
  const r = await dog.exec(SdHeader.request(opcode, SD_FLAG.CMD_WRITE, payload.length), payload);
  if (!r) return EXIT.FAILURE;
  if (r.hdr.result !== SD_RES.SUCCESS) {
    err('Failed to execute request, look for sheep.log for more information');
    return EXIT.FAILURE;
  }
  return EXIT.SUCCESS;
}

export const plug = {
  run: (dog: Dog, args: string[]) => plugUnplug(dog, args, SD_OP.MD_PLUG, 'Caution! The directories to be plugged will be purged.'),
};

export const unplug = {
  run: (dog: Dog, args: string[]) => plugUnplug(dog, args, SD_OP.MD_UNPLUG, 'Caution! Recovery will be triggered after unplugging.'),
};
