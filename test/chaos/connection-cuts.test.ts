// Chaos 3: a TCP proxy between the workers (and a producer) and Redis cuts
// every connection mid-stream, or lets a command run and drops its reply,
// several times a second. Nobody is killed, so every job must run exactly
// once: ioredis resends what was in flight, and the scripts must make that
// harmless (or hand back what a lost reply left behind).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, Queue, Retry } from '../../src/index.js';
import { TcpProxy } from '../helpers/proxy.js';
import { RedisServer } from '../helpers/redis.js';
import { uniq, until } from '../helpers/util.js';
import { FAST, killAllWorkers, runsByJob, settle, SOAK, summary, WorkerProc } from './helpers.js';

let server: RedisServer;
let proxy: TcpProxy;
let redis: Redis;
before(async () => {
  server = await RedisServer.start();
  proxy = new TcpProxy(server.port);
  await proxy.start();
  redis = createRedis(server.url);
});
after(async () => {
  await killAllWorkers();
  redis.disconnect();
  await proxy.stop();
  await server.destroy();
});

test('connection cuts: connections dropped mid-command; no job lost or run twice', { timeout: 300_000 }, async () => {
  const N = SOAK ? 5000 : 600;
  const tag = uniq('cuts');
  const shared = [uniq('a'), uniq('b')];
  const privateQueues = [uniq('p1'), uniq('p2'), uniq('p3')];
  const workers = await Promise.all(
    privateQueues.map((p, i) =>
      WorkerProc.start(proxy.url, [...shared, p], { ...FAST, concurrency: 3, dequeueStrategy: i === 1 ? 'round_robin' : 'default' }, { COUNTER_URL: server.url }),
    ),
  );
  const recovered: string[] = [];
  const errors: string[] = [];
  let handedBack = 0;
  for (const w of workers) {
    w.on('job-handed-back', () => handedBack++);
    w.on('job-recovered', (id: string, outcome: string) => recovered.push(`${id} ${outcome}`));
    w.on('worker-error', (...m: string[]) => errors.push(m.join(' ')));
  }

  // The producer goes through the proxy too: its enqueues get cut as well.
  const producer = createRedis(proxy.url);
  producer.on('error', () => {});
  const expected = new Map<string, string[]>();
  const producing = (async () => {
    for (let i = 0; i < N; i += 10) {
      const q = new Queue(shared[(i / 10) % 2]!, producer);
      const batch = Array.from({ length: 10 }, () => ({
        func: 'fixtures.work',
        args: [tag, 20 + Math.floor(Math.random() * 100)],
        retry: new Retry({ max: 3 }),
      }));
      // single enqueues and enqueueMany, both cut
      const jobs = i % 20 === 0 ? await q.enqueueMany(batch) : await Promise.all(batch.map((b) => q.enqueue(b.func, b)));
      for (const j of jobs) expected.set(j.id, ['finished']);
      await new Promise((r) => setTimeout(r, 15));
    }
  })();

  let faults = 0;
  let stop = false;
  const faulting = (async () => {
    const until = Date.now() + (SOAK ? 300_000 : 15_000);
    while (!stop && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 350));
      if (Math.random() < 0.5) {
        if (proxy.cutAll() > 0) faults++;
      } else {
        proxy.dropNextReplies(1 + Math.floor(Math.random() * 3));
        faults++;
      }
    }
  })();
  await producing;
  await faulting;
  stop = true;
  proxy.dropNextReplies(-Infinity);
  proxy.dropNextReplies(0);
  const cutsEndedAt = Date.now();

  // No worker silently stuck: each one runs a job of its own queue now.
  const probes = await Promise.all(privateQueues.map((p) => new Queue(p, redis).enqueue('fixtures.work', { args: [tag, 1] })));
  for (const p of probes) expected.set(p.id, ['finished']);
  const end = await settle(redis, [...shared, ...privateQueues], expected, 60_000);
  const recoverMs = Date.now() - cutsEndedAt;

  const runs = await runsByJob(redis, tag);
  let duplicated = 0;
  const bad: string[] = [];
  for (const id of expected.keys()) {
    const list = runs.get(id) ?? [];
    if (list.length === 0) bad.push(`${id} never ran`);
    if (list.length > 1) {
      duplicated += list.length - 1;
      bad.push(`${id} ran ${list.length} times`);
    }
  }
  // A queued id twice would run twice: none may be left anywhere either.
  summary('connection-cuts', {
    jobs: expected.size,
    faults,
    connections_cut: proxy.stats.cut,
    replies_dropped: proxy.stats.repliesDropped,
    lost: end.wrong.size,
    duplicated,
    recovered: recovered.length,
    handed_back: handedBack,
    worker_errors: errors.length,
    settle_ms: recoverMs,
  });
  producer.disconnect();
  assert.ok(faults >= 10, `only ${faults} faults`);
  assert.deepEqual([...end.wrong].slice(0, 10), [], 'jobs not finished');
  assert.ok(end.ok, `left in flight: ${JSON.stringify(end.left)}`);
  assert.deepEqual(bad.slice(0, 10), [], 'jobs lost or run twice');
  assert.deepEqual(recovered, [], 'a live worker had executions recovered as abandoned');
  for (const w of workers) assert.equal(w.exited, false, `worker ${w.name} exited:\n${w.stderr.slice(-2000)}`);
  await until(async () => (await redis.hget(`rq:worker:${workers[0]!.name}`, 'state')) !== null, 5000);
  await Promise.all(workers.map((w) => w.stop()));
});
