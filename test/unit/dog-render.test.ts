/**
 * Output lines of vdi list, node list, node info, node stat, cluster info,
 * vdi tree and vdi graph, against the reference transcript's rows.
 */
process.env.TZ = 'UTC';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { InodeHeader } from '../../shared/inode.js';
import { makeNode } from '../../shared/node.js';
import type { EpochLog } from '../../shared/proto/cluster-info.js';
import { SD_CLUSTER_FLAG } from '../../shared/proto/flags.js';
import { SD_RES } from '../../shared/proto/results.js';
import {
  epochDiffText, escapeRawName, NODE_INFO_HEADER, nodeInfoRow, nodeInfoTotal, renderClusterInfo, renderNodeList, usePercent,
  VDI_LIST_HEADER, vdiListRow,
} from '../../shared/report-text.js';
import { renderStat } from '../../dog/node/stat.js';
import { decodeStat } from '../../shared/proto/stat.js';
import { graphNode } from '../../dog/vdi/graph.js';
import { FlatIndex } from '../../dog/vdi/inode-index.js';
import { countObjects } from '../../dog/vdi/list.js';
import { renderTree } from '../../dog/vdi/tree.js';
import { ctime, strftime } from '../../shared/ctime.js';

const GB = 1024n ** 3n;
/** 2026-11-23 00:08:09 UTC */
const T0 = 1795392489;

function inode(over: Partial<InodeHeader>): InodeHeader {
  return {
    name: 'one.img', tag: '', createTime: BigInt(T0) << 32n, snapCtime: 0n, vmClockNsec: 0n,
    vdiSize: 4 * 2 ** 30, vmStateSize: 0n, copyPolicy: 0, storePolicy: 0, nrCopies: 3, blockSizeShift: 22,
    snapId: 1, vdiId: 0x65a69a, parentVdiId: 0, btreeCounter: 0, ...over,
  };
}

test('date formats', () => {
  assert.is(strftime('%Y-%m-%d %H:%M', T0), '2026-11-23 00:08');
  assert.is(ctime(T0), 'Mon Nov 23 00:08:09 2026\n');
  assert.is(ctime(T0 - 20 * 86400), 'Tue Nov  3 00:08:09 2026\n');
});

test('vdi list rows (normal)', () => {
  assert.is(VDI_LIST_HEADER,
    '  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies  Tag   Block Size Shift\n');
  const row = (h: InodeHeader, own: number, shared: number, size = BigInt(h.vdiSize)) =>
    vdiListRow({ header: h, vid: h.vdiId, vdiSize: size, own, shared }, false);
  assert.is(row(inode({}), 0, 0),
    '  one.img      0  4.0 GB  0.0 MB  0.0 MB 2026-11-23 00:08   65a69a      3                22\n');
  assert.is(row(inode({ snapCtime: 1n, tag: 'snap1' }), 2, 0),
    's one.img      1  4.0 GB  8.0 MB  0.0 MB 2026-11-23 00:08   65a69a      3         snap1  22\n');
  assert.is(row(inode({ snapCtime: 1n, snapId: 2, vdiId: 0x65a69b }), 0, 2),
    's one.img      2  4.0 GB  0.0 MB  8.0 MB 2026-11-23 00:08   65a69b      3                22\n');
  assert.is(row(inode({ name: 'prealloc.img', vdiSize: 100 * 2 ** 20, vdiId: 0xccc0e2 }), 25, 0),
    '  prealloc.img     0  100 MB  100 MB  0.0 MB 2026-11-23 00:08   ccc0e2      3                22\n');
  assert.is(row(inode({ name: 'clone.img', parentVdiId: 0x65a69a, vdiId: 0xd01ceb }), 0, 2),
    'c clone.img     0  4.0 GB  0.0 MB  8.0 MB 2026-11-23 00:08   d01ceb      3                22\n');
  assert.is(row(inode({ name: 'ec.img', vdiSize: 2 ** 30, copyPolicy: 0x11, nrCopies: 3, vdiId: 0x4c0114 }), 2, 0),
    '  ec.img       0  1.0 GB  8.0 MB  0.0 MB 2026-11-23 00:08   4c0114    2:1                22\n');
  assert.is(row(inode({ name: 'z30.img', vdiSize: 2 ** 30, blockSizeShift: 30, vdiId: 0xd2f4ff }), 0, 0),
    '  z30.img      0  1.0 GB  0.0 MB  0.0 MB 2026-11-23 00:08   d2f4ff      3                30\n');
  const long = 'n'.repeat(255);
  assert.is(row(inode({ name: long, vdiSize: 2 ** 30, vdiId: 0x54d7a9 }), 0, 0),
    `  ${long}     0  1.0 GB  0.0 MB  0.0 MB 2026-11-23 00:08   54d7a9      3                22\n`);
  assert.is(row(inode({ name: 'hyper.img', storePolicy: 1, vdiId: 0x96d474 }), 0, 0, 5n * 1024n * GB),
    '  hyper.img     0  5.0 TB  0.0 MB  0.0 MB 2026-11-23 00:08   96d474      3                22\n');
});

test('vdi list rows (raw)', () => {
  const row = (h: InodeHeader, own: number, shared: number) =>
    vdiListRow({ header: h, vid: h.vdiId, vdiSize: BigInt(h.vdiSize), own, shared }, true);
  assert.is(row(inode({ snapCtime: 1n, tag: 'snap1' }), 2, 0), `s one.img 1 4294967296 8388608 0 ${T0} 65a69a 3 snap1 22\n`);
  assert.is(row(inode({ vdiId: 0x65a69c, snapId: 3, parentVdiId: 0x65a69b }), 1, 1),
    `= one.img 0 4294967296 4194304 4194304 ${T0} 65a69c 3  22\n`);
  assert.is(row(inode({ name: 'clone.img', parentVdiId: 0x65a69a, vdiId: 0xd01ceb }), 0, 2),
    `c clone.img 0 4294967296 0 8388608 ${T0} d01ceb 3  22\n`);
  assert.is(escapeRawName('a b\\c\td'), 'a\\ b\\\\c\\\td');
});

test('vdi list counts own and shared objects from the index', () => {
  const buf = Buffer.alloc(16);
  [0x65a69c, 0x65a69a, 0, 0x65a69c].forEach((v, i) => buf.writeUInt32LE(v, i * 4));
  assert.equal(countObjects(new FlatIndex(buf, 0, 4), 0x65a69c), { own: 2, shared: 1 });
});

test('node list rows', () => {
  const nodes = [0, 1, 2].map((i) => makeNode('127.0.0.1', 7000 + i, { zone: i }));
  assert.is(renderNodeList(nodes, false),
    '  Id   Host:Port         V-Nodes       Zone\n' +
    '   0   127.0.0.1:7000      \t128          0\n' +
    '   1   127.0.0.1:7001      \t128          1\n' +
    '   2   127.0.0.1:7002      \t128          2\n');
  assert.is(renderNodeList(nodes, true), '0 127.0.0.1:7000 128 0\n1 127.0.0.1:7001 128 1\n2 127.0.0.1:7002 128 2\n');
  const gw = makeNode('127.0.0.1', 7004, { nrVnodes: 0, zone: 4 });
  const dz = makeNode('127.0.0.1', 7000);
  assert.is(renderNodeList([dz, gw], false).split('\n').slice(1, 3).join('\n'),
    '   0   127.0.0.1:7000      \t128   16777343\n   1   127.0.0.1:7004      \t 0          4');
});

test('node info rows and totals', () => {
  const size = 67259609088n;
  assert.is(NODE_INFO_HEADER, 'Id\tSize\tUsed\tAvail\tUse%\n');
  assert.is(nodeInfoRow(0, size, size, false), ' 0\t63 GB\t0.0 MB\t63 GB\t  0%\n');
  assert.is(nodeInfoRow(1, size, size, true), '1 67259609088 0 67259609088 0%\n');
  assert.is(nodeInfoTotal(3n * size, 3n * size, 0n, false), 'Total\t188 GB\t0.0 MB\t188 GB\t  0%\n\nTotal virtual image size\t0.0 MB\n');
  assert.is(nodeInfoTotal(3n * size, 3n * size, 0n, true), 'Total 201778827264 0 201778827264 0% 0\n');
  assert.is(usePercent(178n << 20n, 98n << 20n), 44);
  assert.is(usePercent(0n, 0n), 0);
});

test('node stat: read and write counts under the swapped headings', () => {
  const b = Buffer.alloc(120);
  const vals = [0, 0, 396, 105, 116n << 20n, 429n << 20n, 116n << 20n, 0, 0, 290, 105, 0, 0, 0, 104];
  vals.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), i * 8));
  assert.is(renderStat(decodeStat(b), false),
    'Request\tActive\tTotal\tWrite\tRead\tRemove\tFlush\tAll WR\tAll RD\n' +
    'Client\t0\t396\t290\t105\t0\t0\t116 MB\t429 MB\n' +
    'Peer\t0\t105\t0\t104\t0\t0\t116 MB\t0.0 MB\n');
});

const nodes3 = [0, 1, 2].map((i) => makeNode('127.0.0.1', 7000 + i, { zone: i }));
function epoch(e: number, time: number, nodes = nodes3, extra: Partial<EpochLog> = {}): EpochLog {
  return {
    ctime: BigInt(T0) << 32n, time: BigInt(time), epoch: e, disableRecovery: false, nrCopies: 3, copyPolicy: 0,
    flags: SD_CLUSTER_FLAG.AUTO_VNODES, drvName: 'plain', nodes, ...extra,
  };
}

test('cluster info: unformatted, running, -v, -r', () => {
  const o = { raw: false, verbose: false, diff: false };
  assert.is(renderClusterInfo(SD_RES.WAIT_FOR_FORMAT, [], o), 'Cluster status: Waiting for cluster to be formatted\n\n');
  const nodes = '[127.0.0.1:7000:128, 127.0.0.1:7001:128, 127.0.0.1:7002:128]';
  assert.is(renderClusterInfo(SD_RES.SUCCESS, [epoch(1, T0)], o),
    'Cluster status: running, auto-recovery enabled\n\nCluster created at Mon Nov 23 00:08:09 2026\n\n' +
    `Epoch Time           Version [Host:Port:V-Nodes,,,]\n2026-11-23 00:08:09      1 ${nodes}\n`);
  assert.is(renderClusterInfo(SD_RES.SUCCESS, [epoch(1, T0, nodes3, { copyPolicy: 0x11 })], { ...o, verbose: true }),
    'Cluster status: running, auto-recovery enabled\nCluster store: plain with 2:1 redundancy policy\n' +
    'Cluster vnodes strategy: auto\nCluster vnode mode: node\nCluster created at Mon Nov 23 00:08:09 2026\n\n' +
    `Epoch Time           Version [Host:Port:V-Nodes,,,]\n2026-11-23 00:08:09      1 ${nodes}\n`);
  assert.is(renderClusterInfo(SD_RES.SUCCESS, [epoch(1, T0)], { ...o, raw: true }),
    `running, auto-recovery enabled\n\n${T0} 1 ${nodes}\n`);
  assert.is(renderClusterInfo(SD_RES.SUCCESS, [epoch(1, T0, nodes3, { disableRecovery: true, flags: 0 })], { ...o, raw: true, verbose: true }),
    `running, auto-recovery disabled\nplain with 3 redundancy policy\nfixed\nnode\n${T0} 1 ${nodes}\n`);
  assert.is(renderClusterInfo(SD_RES.WAIT_FOR_JOIN, [], { ...o, verbose: true }),
    'Cluster status: Waiting for other nodes to join cluster\nCluster store: Waiting for other nodes to join cluster\nCluster vnode mode: node\n');
});

test('cluster info -d: joined and left nodes, oldest says formated', () => {
  const [a, b, c] = nodes3 as [ReturnType<typeof makeNode>, ReturnType<typeof makeNode>, ReturnType<typeof makeNode>];
  const d = makeNode('127.0.0.1', 7003, { zone: 3 });
  assert.is(epochDiffText([a, c, d], [a, b, c]), '+127.0.0.1:7003-127.0.0.1:7001');
  assert.is(epochDiffText([a, b], undefined), 'formated');
  const logs = [epoch(3, T0 + 2, [a, b, c]), epoch(2, T0 + 1, [b, c]), epoch(1, T0, [a, b, c])];
  assert.is(renderClusterInfo(SD_RES.SUCCESS, logs, { raw: false, verbose: false, diff: true }).split('\n').slice(5).join('\n'),
    '2026-11-23 00:08:11      3 [+127.0.0.1:7000]\n2026-11-23 00:08:10      2 [-127.0.0.1:7000]\n2026-11-23 00:08:09      1 [formated]\n');
});

test('vdi tree: the layout of 041.out and of the transcript', () => {
  const D = '[2026-11-23 00:08]';
  const v = (vid: number, parentVid: number, label = D, name = 'test') => ({ name, label, vid, parentVid, highlight: false });
  assert.is(renderTree([
    v(1, 0), v(2, 1), v(3, 2), v(4, 3, '(you are here)'), v(5, 2), v(6, 1), v(7, 6), v(8, 1),
  ]),
    'test---[DATE]-+-[DATE]-+-[DATE]---(you are here)\n'.replaceAll('[DATE]', D) +
    '                          |                    `-[DATE]\n'.replace('[DATE]', D) +
    '                          |-[DATE]---[DATE]\n'.replaceAll('[DATE]', D) +
    '                          `-[DATE]\n'.replace('[DATE]', D));
  assert.is(renderTree([
    v(0x65a69a, 0, D, 'one.img'), v(0x65a69b, 0x65a69a, D, 'one.img'), v(0x65a69c, 0x65a69b, '(you are here)', 'one.img'),
    v(0xafa524, 0, '(you are here)', 'two.img'), v(0xd01ceb, 0x65a69a, '(you are here)', 'clone.img'),
  ]),
    `one.img---${D}---${D}---(you are here)\ntwo.img---(you are here)\nclone.img---(you are here)\n`);
});

test('vdi graph node', () => {
  const h = inode({ snapCtime: 1n, vdiId: 0x65a69a });
  assert.is(graphNode({ vid: 0x65a69a, header: h, vdiSize: 4n * GB }),
    '  "0" -> "65a69a";\n  "65a69a" [\n    group = "one.img",\n' +
    '    label = "Name:    one.img\\nTag:           1\\nSize:     4.0 GB\\nDate: 2026-11-23\\nTime:   00:08:09"\n  ];\n\n');
  const w = inode({ name: 'prealloc.img', vdiId: 0xccc0e2, vdiSize: 100 * 2 ** 20 });
  assert.is(graphNode({ vid: 0xccc0e2, header: w, vdiSize: 100n << 20n }),
    '  "0" -> "ccc0e2";\n  "ccc0e2" [\n    group = "prealloc.img",\n' +
    '    label = "Name: prealloc.img\\nTag:           0\\nSize:     100 MB\\nDate: 2026-11-23\\nTime:   00:08:09",\n' +
    '    color="red"\n  ];\n\n');
});

test.run();
