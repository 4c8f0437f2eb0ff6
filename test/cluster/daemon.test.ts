/**
 * The daemon's life cycle as scripts see it: it daemonizes keeping its command
 * line, one sheep per store, its log in the store, clean stop on SIGTERM, and
 * clear start-up errors.
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pidAlive, run, SHEEP, TestCluster, waitFor } from '../lib/cluster.js';

let cluster: TestCluster;

test.before(async () => {
  cluster = await TestCluster.start({ nodes: 2, copies: 2 });
});

test.after(async () => {
  await cluster?.cleanup();
});

test('pgrep -f "<sheep path> <store dir> " finds exactly the daemon', async () => {
  const r = await run('pgrep', ['-f', `${SHEEP} ${cluster.dir(0)} `]);
  assert.is(r.code, 0, 'pgrep found it');
  const pids = r.out.trim().split('\n').map(Number);
  assert.equal(pids, [cluster.pids.get(0)]);
  const cmdline = readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8').split('\0').join(' ');
  assert.ok(cmdline.includes(`${SHEEP} ${cluster.dir(0)} -c local:`), cmdline);
});

test('the log is in the store directory and says the daemon started', () => {
  const log = readFileSync(join(cluster.dir(0), 'sheep.log'), 'utf8');
  assert.match(log, /sheepdog daemon \(version [\d.]+\) started/);
});

test('a second sheep on the same store is refused and changes nothing', async () => {
  const [port] = cluster.ports.slice(-1);
  const r = await run(SHEEP, [cluster.dir(0), '-c', `local:${cluster.shm}`, '-p', String(port), '-n']);
  assert.is(r.code, 1);
  assert.match(r.stderr, `another sheep daemon is using ${cluster.dir(0)}`);
  await cluster.waitMembers(2);
});

test('a port in use: exit 1 with the reason', async () => {
  const dir = join(cluster.root, 'busy');
  const r = await run(SHEEP, [dir, '-c', `local:${join(cluster.root, 'othershm')}`, '-p', String(cluster.port(0)), '-n']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'Address already in use');
});

test('bad options: the original messages and exit 1', async () => {
  const cases: [string[], string][] = [
    [['-p', '0'], "Invalid port number '0'"],
    [['-z', 'x'], "Invalid zone id 'x': must be an integer between 0 and 4294967295"],
    [['-V', '70000'], "Invalid number of vnodes '70000': must be an integer between 1 and 65535"],
    [['-g', '-V', '5'], "Options '-g' and '-V' can not be both specified"],
    [['-b', 'nonsense'], "Bad address 'nonsense'"],
    [['-c', 'corosync'], "Invalid cluster driver 'corosync'"],
    [['--bogus'], "sheep: unrecognized option '--bogus'"],
  ];
  for (const [args, msg] of cases) {
    const r = await run(SHEEP, [...args, join(cluster.root, 'never')]);
    assert.is(r.code, 1, args.join(' '));
    assert.match(r.stderr, msg);
  }
  assert.not.ok(existsSync(join(cluster.root, 'never', 'config')), 'nothing was started');
});

test('a store directory whose parent does not exist: clear error', async () => {
  const r = await run(SHEEP, [join(cluster.root, 'no/such/parent'), '-p', String(cluster.ports.at(-1))]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /cannot create the directory .*no\/such\/parent/);
});

test('SIGTERM stops the daemon; the others see it leave', async () => {
  const pid = cluster.pids.get(1)!;
  await cluster.stop(1);
  assert.not.ok(pidAlive(pid));
  await cluster.waitMembers(1);
  // the port is free again
  await waitFor('port released', () => new Promise<boolean>((res) => {
    const s = net.createServer().once('error', () => res(false)).listen(cluster.port(1), '127.0.0.1', () => s.close(() => res(true)));
  }), 5000);
  assert.not.ok(existsSync(join(cluster.root, '1.pid')), 'pid file removed on clean exit');
});

test.run();
