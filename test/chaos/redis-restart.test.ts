// Chaos 2a: the Redis server (append-only file, fsync on every write, as
// OpenVLE runs it) is SIGKILLed and restarted while workers are busy and a
// producer enqueues, then again while the workers wait. Workers reconnect and
// finish every job whose enqueue Redis acknowledged; nobody was killed, so no
// job may run twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, Queue, Retry } from '../../src/index.js';
import { RedisServer } from '../helpers/redis.js';
import { uniq, until } from '../helpers/util.js';
import { FAST, killAllWorkers, runsByJob, settle, SOAK, summary, WorkerProc, exactlyOnce } from './helpers.js';

let server: RedisServer;
let redis: Redis;
before(async () => {
  server = await RedisServer.startPersistent();
  redis = createRedis(server.url);
  redis.on('error', () => {});
});
after(async () => {
  await killAllWorkers();
  redis.disconnect();
  await server.destroy();
});

test('Redis restarts (AOF) while workers are busy and while they wait', { timeout: 300_000 }, async () => {
  const tag = uniq('restart');
  const queues = [uniq('a'), uniq('b')];
  const workers = await Promise.all(
    [0, 1, 2].map(() => WorkerProc.start(server.url, queues, { ...FAST, concurrency: 4 })),
  );
  const recovered: string[] = [];
  let handedBack = 0;
  for (const w of workers) {
    w.on('job-recovered', (id: string, outcome: string) => recovered.push(`${id} ${outcome}`));
    w.on('job-handed-back', () => handedBack++);
  }

  // The producer counts only enqueues Redis acknowledged; its calls ride out the restarts.
  const producer = createRedis(server.url);
  producer.on('error', () => {});
  const expected = new Map<string, string[]>();
  const N = SOAK ? 4000 : 500;
  const produce = async (n: number) => {
    for (let i = 0; i < n; i += 10) {
      const q = new Queue(queues[(i / 10) % 2]!, producer);
      const jobs = await q.enqueueMany(
        Array.from({ length: 10 }, () => ({ func: 'fixtures.work', args: [tag, 50 + Math.floor(Math.random() * 300)], retry: new Retry({ max: 3 }) })),
      );
      for (const j of jobs) expected.set(j.id, ['finished']);
      await new Promise((r) => setTimeout(r, 40));
    }
  };

  // Busy: three restarts while jobs run and the producer writes.
  const producing = produce(N);
  let restarts = 0;
  let maxReconnectMs = 0;
  let recentStart = 0;
  const probe = async () => {
    // time from the restart until a worker takes a job again
    const t = Date.now();
    await until(() => recentStart > t, 30_000, 20);
    maxReconnectMs = Math.max(maxReconnectMs, Date.now() - t);
  };
  for (const w of workers) w.on('job-started', () => (recentStart = Date.now()));
  for (let i = 0; i < (SOAK ? 10 : 3); i++) {
    await new Promise((r) => setTimeout(r, 1500));
    await server.restart(300 + Math.floor(Math.random() * 700));
    restarts++;
    await probe();
  }
  await producing;
  const busy = await settle(redis, queues, expected, 60_000);
  assert.deepEqual([...busy.wrong].slice(0, 10), [], 'jobs not finished after the busy restarts');

  // Idle: every worker waits on empty queues; restart; new jobs must still be seen.
  await server.restart(500);
  restarts++;
  const t = Date.now();
  await produce(50);
  const idle = await settle(redis, queues, expected, 30_000);
  const idleMs = Date.now() - t;

  const runs = await runsByJob(redis, tag);
  const { bad, duplicated } = exactlyOnce(expected.keys(), runs);
  summary('redis-restart', {
    jobs: expected.size,
    faults: restarts,
    lost: idle.wrong.size,
    duplicated,
    recovered: recovered.length,
    handed_back: handedBack,
    max_recover_ms: maxReconnectMs,
    idle_restart_ms: idleMs,
  });
  producer.disconnect();
  assert.deepEqual([...idle.wrong].slice(0, 10), [], 'jobs not finished after the idle restart');
  assert.ok(idle.ok, `left in flight: ${JSON.stringify(idle.left)}`);
  assert.deepEqual(bad.slice(0, 10), [], 'jobs lost or run twice');
  assert.deepEqual(recovered, [], 'executions of live workers recovered as abandoned');
  for (const w of workers) assert.equal(w.exited, false, `a worker exited:\n${w.stderr.slice(-2000)}`);
  await Promise.all(workers.map((w) => w.stop()));
});
