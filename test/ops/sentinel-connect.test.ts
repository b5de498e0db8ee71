// Connecting through Sentinel: the CLI finds the master through
// redis+sentinel:// and RQ_SENTINELS, skips a dead sentinel, ends with one
// `error:` line (exit 1, never a hang) when no sentinel can say where the
// master is, and a worker follows a switch-over where the old master stays up
// as a replica (SENTINEL FAILOVER).
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { Queue, createRedis, keys } from '../../src/index.js';
import { connectOnce } from '../../src/engine/connection.js';
import { killAllWorkers, WorkerProc } from '../chaos/helpers.js';
import { run } from '../cli/helpers.js';
import { freePort, RedisServer } from '../helpers/redis.js';
import { MASTER_NAME, SentinelCluster } from '../helpers/sentinel.js';
import { uniq, until } from '../helpers/util.js';

let cluster: SentinelCluster;
const conns: Redis[] = [];

before(async () => {
  cluster = await SentinelCluster.start();
});

after(async () => {
  await killAllWorkers();
  for (const c of conns) c.disconnect();
  await cluster?.destroy();
});

function conn(url: string): Redis {
  const c = createRedis(url);
  conns.push(c);
  return c;
}

/** An `openvle-rq` run that must fail: exit 1 with exactly one `error:` line, and not by the test's kill (a hang). */
async function failsWithOneLine(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await run(args, { env, timeoutMs: 30_000 });
  assert.equal(r.signal, null, `killed: it hung\n${r.stderr}`);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^error: /);
  return lines[0]!;
}

test('an unreachable Sentinel is one error line and exit 1, not a hang', async () => {
  const line = await failsWithOneLine(['info', '-u', `redis+sentinel://127.0.0.1:1/${MASTER_NAME}`]);
  assert.equal(line, `error: Cannot reach Redis at redis+sentinel://127.0.0.1:1/${MASTER_NAME}: no sentinel gave the master's address (sentinel 127.0.0.1:1: connection refused or closed)`);
  const two = await failsWithOneLine(['info'], { RQ_SENTINELS: '127.0.0.1:1,127.0.0.1:2', RQ_SENTINEL_MASTER: MASTER_NAME });
  assert.match(two, /sentinel 127\.0\.0\.1:1: connection refused or closed; sentinel 127\.0\.0\.1:2: connection refused or closed\)$/);
  // the lasting connection a worker uses is checked first the same way
  assert.match(await failsWithOneLine(['worker', '-b', '-u', `redis+sentinel://127.0.0.1:1/${MASTER_NAME}`]), /no sentinel gave the master's address/);
});

test('a sentinel that accepts connections and never answers is a timeout, not a hang', async () => {
  const sockets = new Set<Socket>();
  const silent: Server = createServer((s) => sockets.add(s));
  const port = await freePort();
  await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
  try {
    const line = await failsWithOneLine(['info', '-u', `redis+sentinel://127.0.0.1:${port}/${MASTER_NAME}`]);
    assert.match(line, /: no answer within 3 s$/);
    // the same for a plain server that never answers (ioredis' connect timeout ends at the TCP connect)
    assert.match(await failsWithOneLine(['info', '-u', `redis://127.0.0.1:${port}`]), /: no answer within 3 s$/);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('sentinels that do not know the master name, or a server that is no sentinel, are one error line', async () => {
  const [s0, s1] = cluster.sentinels;
  const line = await failsWithOneLine(['info', '-u', `redis+sentinel://127.0.0.1:${s0!.port},127.0.0.1:${s1!.port}/nosuchmaster`]);
  assert.match(line, new RegExp(`no sentinel gave the master's address \\(sentinel 127\\.0\\.0\\.1:${s0!.port}: ERR No such master with that name; sentinel 127\\.0\\.0\\.1:${s1!.port}: ERR No such master with that name\\)$`));
  const plain = await failsWithOneLine(['info', '-u', `redis+sentinel://127.0.0.1:${cluster.master.port}/${MASTER_NAME}`]);
  assert.match(plain, /unknown command 'sentinel'/i);
});

test('a redis+sentinel:// URL with parameters is refused, not read as part of the master name', async () => {
  const line = await failsWithOneLine(['info', '-u', `${cluster.url}?ssl_ca_certs=/tmp/ca.pem`]);
  assert.equal(line, 'error: redis+sentinel:// URLs take no parameters (TLS to the sentinels and the master is not supported)');
});

test('the CLI and the engine reach the master through redis+sentinel:// and RQ_SENTINELS, past a dead sentinel', async () => {
  const r = await run(['info', '--json', '-u', cluster.url], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const deadFirst = cluster.url.replace('redis+sentinel://', 'redis+sentinel://127.0.0.1:1,');
  const q = uniq('sc');
  const e = await run(['enqueue', '-u', deadFirst, '-q', q, 'tasks.nothing', ':1'], { timeoutMs: 30_000 });
  assert.equal(e.code, 0, e.stderr);
  const id = /with job-id '([^']+)'/.exec(e.stdout)?.[1];
  assert.ok(id, e.stdout);
  // it is on the master itself
  const direct = conn(cluster.master.url);
  assert.equal(await direct.hget(keys.job(id), 'origin'), q);
  const env = { RQ_SENTINELS: cluster.url.slice('redis+sentinel://'.length).split('/')[0]!, RQ_SENTINEL_MASTER: MASTER_NAME };
  const viaEnv = await run(['info', '--json', q], { env, timeoutMs: 30_000 });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.match(viaEnv.stdout, new RegExp(q));
  const once = await connectOnce(cluster.url);
  assert.equal(await once.get('nothing-here'), null);
  once.disconnect();
});

test('a worker follows a switch-over that keeps the old master up as a replica (SENTINEL FAILOVER)', async () => {
  const counterServer = await RedisServer.start();
  try {
    const counter = conn(counterServer.url);
    const queue = uniq('sw');
    const tag = uniq('sw');
    const worker = await WorkerProc.start(cluster.url, [queue], { jobMonitoringInterval: 0.5, deadWorkerTimeout: 5, recoveryInterval: 0.5 }, { COUNTER_URL: counterServer.url });
    const producer = conn(cluster.url);
    const q = new Queue(queue, producer);
    const ids: string[] = [];
    const enqueue = async (n: number) => {
      for (let i = 0; i < n; i++) ids.push((await q.enqueue('fixtures.work', { args: [tag, 1] })).id);
    };
    await enqueue(20);
    await until(async () => (await counter.hlen(`chaos:${tag}:done`)) >= 20, 60_000, 50);
    const oldMaster = cluster.master.port;
    const sentinel = conn(`redis://127.0.0.1:${cluster.sentinels[0]!.port}`);
    assert.equal(await sentinel.call('SENTINEL', 'FAILOVER', MASTER_NAME), 'OK');
    await cluster.waitForReplicaPromoted(60_000);
    // the old master is alive, now a replica: a client still talking to it would get READONLY
    const old = conn(`redis://127.0.0.1:${oldMaster}`);
    await until(async () => /role:slave/.test(await old.info('replication')), 60_000, 50);
    await enqueue(50);
    await until(async () => (await counter.hlen(`chaos:${tag}:done`)) >= 70, 60_000, 50).catch(async () => {
      throw new Error(`the worker did not follow the switch-over: ${await counter.hlen(`chaos:${tag}:done`)} of 70 done\n${worker.stderr}`);
    });
    const newMaster = conn(cluster.replica.url);
    for (const id of ids) assert.equal(await newMaster.hget(keys.job(id), 'status'), 'finished', id);
    assert.equal(worker.exited, false, worker.stderr);
    await worker.stop();
  } finally {
    await counterServer.destroy();
  }
});
