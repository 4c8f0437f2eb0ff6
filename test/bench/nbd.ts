/**
 * The NBD export vs the sheepfs volume, same cluster, same run (on demand).
 *
 * A 3-sheep cluster with copies=3 (sync writes), sheep 0 serving NBD on a
 * Unix socket and sheepfs mounted on sheep 0. fio runs the same four jobs
 * (sequential 1 MiB write and read, 4 KiB random write and read, queue depth
 * 16) through its nbd engine on one VDI and with libaio and direct I/O on
 * another VDI's sheepfs volume. Then a random image is copied into a VDI
 * over NBD with qemu-img convert and back, and must keep its sha256; the
 * same copy into a sheepfs volume gives the baseline.
 *
 * Usage: npm run build && node build/test/bench/nbd.js [--size 512M] [--runtime 10] [--image 1G]
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountSheepfs, type Mount } from '../fuse/lib.js';
import { TestCluster } from '../lib/cluster.js';
import { FIO_JOBS, fioFigure, runFio, type FioJob } from '../lib/fio.js';
import { sh } from '../lib/shell.js';
import { parseSize } from '../../shared/size.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SIZE = arg('--size', '512M');
const IMAGE = arg('--image', '1G');
const RUNTIME_S = Number(arg('--runtime', '10'));
const IODEPTH = 16;

const fio = (target: string[], job: FioJob): Promise<number> => runFio(target, job, { size: SIZE, runtimeS: RUNTIME_S, iodepth: IODEPTH });

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

async function timed(what: string, script: string): Promise<number> {
  const t0 = Date.now();
  const r = await sh(script, 1_800_000);
  if (r.code !== 0) throw new Error(`${what}: ${r.stderr}`);
  return (Date.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sheep-nbd-bench-'));
  const sock = join(work, 'nbd.sock');
  let cluster: TestCluster | undefined;
  let m: Mount | undefined;
  try {
    cluster = await TestCluster.start({ nodes: 3, copies: 3, nosync: false, sheepArgs: (i) => (i === 0 ? ['--nbd-unix', sock] : []) });
    for (const [name, size] of [['nbd.img', SIZE], ['fs.img', SIZE], ['conv-nbd.img', IMAGE], ['conv-fs.img', IMAGE]]) {
      const c = await cluster.dog(['vdi', 'create', name!, size!]);
      if (c.code !== 0) throw new Error(c.stderr);
    }
    m = await mountSheepfs(join(work, 'mnt'), cluster.port(0));
    const volume = (name: string): string => join(work, 'mnt/vdi', name, 'volume');
    const uri = (name: string): string => `nbd+unix:///${name}?socket=${sock}`;

    console.log(`fio, iodepth ${IODEPTH}, ${SIZE} VDI, ${RUNTIME_S} s per job; copies=3 over 3 local sheep (sync writes)`);
    console.log('NBD: fio --ioengine=nbd on sheep 0\'s Unix socket; sheepfs: libaio, direct I/O, mounted on sheep 0\n');
    console.log(`${'job'.padEnd(16)}${'NBD'.padStart(12)}${'sheepfs'.padStart(12)}${'ratio'.padStart(9)}`);
    for (const job of FIO_JOBS) {
      const n = await fio(['--ioengine=nbd', `--uri=${uri('nbd.img')}`], job);
      const f = await fio([`--filename=${volume('fs.img')}`, '--ioengine=libaio', '--direct=1'], job);
      console.log(`${job.name.padEnd(16)}${fioFigure(job, n).padStart(12)}${fioFigure(job, f).padStart(12)}${(n / f).toFixed(2).padStart(9)}`);
    }

    const src = join(work, 'src.raw');
    const back = join(work, 'back.raw');
    const made = await timed('random image', `head -c ${IMAGE} /dev/urandom > ${src}`);
    console.log(`\nqemu-img convert of a ${IMAGE} random image (made in ${made.toFixed(1)} s)`);
    console.log(`${'copy'.padEnd(16)}${'NBD'.padStart(12)}${'sheepfs'.padStart(12)}${'ratio'.padStart(9)}`);
    const inNbd = await timed('convert in (NBD)', `qemu-img convert -n -f raw -O raw ${src} '${uri('conv-nbd.img')}'`);
    const outNbd = await timed('convert out (NBD)', `qemu-img convert -f raw -O raw '${uri('conv-nbd.img')}' ${back}`);
    const same = (await sha256(back)) === (await sha256(src));
    rmSync(back);
    const inFs = await timed('convert in (sheepfs)', `qemu-img convert -n -t none -f raw -O raw ${src} ${volume('conv-fs.img')}`);
    const outFs = await timed('convert out (sheepfs)', `qemu-img convert -T none -f raw -O raw ${volume('conv-fs.img')} ${back}`);
    const mb = (s: number): string => `${(parseSize(IMAGE)! / 1e6 / s).toFixed(1)} MB/s`;
    console.log(`${'into the VDI'.padEnd(16)}${mb(inNbd).padStart(12)}${mb(inFs).padStart(12)}${(inFs / inNbd).toFixed(2).padStart(9)}`);
    console.log(`${'out of the VDI'.padEnd(16)}${mb(outNbd).padStart(12)}${mb(outFs).padStart(12)}${(outFs / outNbd).toFixed(2).padStart(9)}`);
    console.log(`sha256 after the NBD round trip: ${same ? 'identical' : 'DIFFERENT'}`);
    if (!same) process.exitCode = 1;
  } finally {
    await m?.cleanup();
    await cluster?.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
