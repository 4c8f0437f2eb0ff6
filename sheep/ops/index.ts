/**
 * The one registry of what a sheep does with each opcode. Adding an op means a
 * handler in the family file and a row there; this file only merges the tables.
 * Opcodes without a row are answered with INVALID_PARMS.
 */
import { clusterAdminOps } from './cluster.js';
import { nodeOps } from './node.js';
import { objectOps } from './object.js';
import { peerOps } from './peer.js';
import type { ClusterOpDef, OpDef, OpTable } from './types.js';
import { vdiOps } from './vdi.js';

export type { ClusterOpDef, DirectOpDef, OpContext, OpDef, OpHandler, MainHandler } from './types.js';

const TABLES: OpTable[] = [objectOps, peerOps, vdiOps, clusterAdminOps, nodeOps];

const REGISTRY = new Map<number, OpDef>();
for (const table of TABLES) {
  for (const [code, def] of Object.entries(table)) {
    if (!def) continue;
    if (REGISTRY.has(Number(code))) throw new Error(`opcode 0x${Number(code).toString(16)} registered twice`);
    // peer ops are counted by epoch: a new recovery waits for the older ones
    const tracked: OpDef = def.kind === 'peer'
      ? { ...def, handle: (s, req, data, rsp, into) => s.recovery.tracked(req, () => def.handle(s, req, data, rsp, into)) }
      : def;
    REGISTRY.set(Number(code), tracked);
  }
}

export function lookupOp(opcode: number): OpDef | undefined {
  return REGISTRY.get(opcode);
}

export function clusterOp(opcode: number): ClusterOpDef | undefined {
  const def = REGISTRY.get(opcode);
  return def?.kind === 'cluster' ? def : undefined;
}
