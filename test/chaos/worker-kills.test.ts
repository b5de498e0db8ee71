// Chaos 1: worker processes SIGKILLed about every second while 1,000 jobs
// over three queues run; a new worker replaces each one. Every job must end
// finished (or failed, for jobs designed to fail), nothing may stay queued,
// started or in wip, and a job may only run twice when an attempt of it was
// on a killed worker (at-least-once).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, Queue, Retry, type EnqueueSpec } from '../../src/index.js';
import { RedisServer } from '../helpers/redis.js';
import { uniq } from '../helpers/util.js';
import { FAST, killAllWorkers, runsByJob, settle, SOAK, summary, WorkerProc } from './helpers.js';

let server: RedisServer;
let redis: Redis;
before(async () => {
  server = await RedisServer.start();
  redis = createRedis(server.url);
});
after(async () => {
  await killAllWorkers();
  redis.disconnect();
  await server.destroy();
});

test('worker kills: 1,000 jobs, a random worker SIGKILLed about every second', { timeout: 300_000 }, async () => {
  const N = SOAK ? 10_000 : 1000;
  const WORKERS = 4;
  const tag = uniq('kills');
  const queues = [uniq('high'), uniq('default'), uniq('low')];
  const expected = new Map<string, string[]>();
  const flaky = new Set<string>();
  const FLAKY_RETRIES = 2;

  const specs = (from: number, to: number): [string, EnqueueSpec][] => {
    const out: [string, EnqueueSpec][] = [];
    for (let i = from; i < to; i++) {
      const q = queues[i % 3]!;
      if (i % 10 === 9) {
        out.push([q, { func: 'fixtures.flaky', args: [tag], retry: new Retry({ max: FLAKY_RETRIES }) }]);
      } else {
        const ms = 100 + Math.floor(Math.random() * 400);
        out.push([q, { func: 'fixtures.work', args: [tag, ms], retry: new Retry({ max: 8, enqueueAtFront: i % 2 === 0 }) }]);
      }
    }
    return out;
  };
  const enqueue = async (from: number, to: number) => {
    for (const [q, spec] of specs(from, to)) {
      const job = await new Queue(q, redis).enqueue(spec.func, spec);
      if (spec.func === 'fixtures.flaky') {
        flaky.add(job.id);
        expected.set(job.id, ['failed']);
      } else expected.set(job.id, ['finished']);
    }
  };

  const strategies = ['default', 'round_robin', 'random'];
  let spawned = 0;
  const startWorker = () =>
    WorkerProc.start(server.url, queues, { ...FAST, concurrency: 3, dequeueStrategy: strategies[spawned++ % 3] });

  // Recovery events, from whichever worker ran the recovery pass.
  const recoveredAt = new Map<string, number>();
  const watch = (w: WorkerProc) =>
    w.on('job-recovered', (id: string) => {
      if (!recoveredAt.has(id)) recoveredAt.set(id, Date.now());
    });

  await enqueue(0, N / 2);
  const workers = await Promise.all(Array.from({ length: WORKERS }, startWorker));
  workers.forEach(watch);
  const producing = (async () => {
    for (let i = N / 2; i < N; i += 50) {
      await enqueue(i, Math.min(N, i + 50));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // The faults: every ~second a random live worker is SIGKILLed and replaced.
  const killedAttempts = new Set<string>(); // `${job}|${pid}`
  const kills: { at: number; members: string[] }[] = [];
  const killedPids = new Set<number>();
  let done = false;
  const faults = (async () => {
    const deadline = Date.now() + (SOAK ? 600_000 : 60_000);
    while (!done && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 700 + Math.random() * 600));
      if (done) break;
      const i = Math.floor(Math.random() * workers.length);
      const victim = workers[i]!;
      await victim.kill('SIGKILL');
      const at = Date.now();
      killedPids.add(victim.pid);
      // What it was running: its executions, as Redis knows them.
      const members = await redis.smembers(`rq:worker:${victim.name}:executions`);
      for (const m of members) killedAttempts.add(`${m.slice(0, m.lastIndexOf(':'))}|${victim.pid}`);
      kills.push({ at, members });
      const fresh = await startWorker();
      watch(fresh);
      workers[i] = fresh;
    }
  })();

  await producing;
  const t0 = Date.now();
  const end = await settle(redis, queues, expected, SOAK ? 900_000 : 120_000);
  done = true;
  await faults;
  const settleMs = Date.now() - t0;

  // Runs per job, from the task's own records.
  const runs = await runsByJob(redis, tag);
  let duplicated = 0;
  const unexpected: string[] = [];
  for (const [id] of expected) {
    const list = runs.get(id) ?? [];
    if (flaky.has(id)) {
      // one run per attempt; an attempt on a killed worker may never have started
      if (list.length < 1 || list.length > FLAKY_RETRIES + 1) unexpected.push(`${id}: flaky job ran ${list.length} times`);
      continue;
    }
    if (list.length === 0) {
      unexpected.push(`${id}: never ran`);
      continue;
    }
    if (!list[list.length - 1]!.done) unexpected.push(`${id}: last run did not complete`);
    for (const r of list.slice(0, -1)) {
      duplicated++;
      if (!killedAttempts.has(`${id}|${r.pid}`)) unexpected.push(`${id}: extra run on ${r.pid}, which was not killed while running it`);
    }
  }
  let recovered = 0;
  let maxRecoverMs = 0;
  let killedExecutions = 0;
  for (const k of kills) {
    for (const m of k.members) {
      killedExecutions++;
      const id = m.slice(0, m.lastIndexOf(':'));
      const at = recoveredAt.get(id);
      if (at !== undefined && at >= k.at) {
        recovered++;
        maxRecoverMs = Math.max(maxRecoverMs, at - k.at);
      }
    }
  }
  const lost = end.wrong.size;
  summary('worker-kills', {
    jobs: N,
    workers: WORKERS,
    faults: kills.length,
    lost,
    duplicated,
    '(killed attempts only)': '',
    recovered,
    killed_executions: killedExecutions,
    max_recover_ms: maxRecoverMs,
    settle_ms: settleMs,
  });
  assert.ok(kills.length >= 5, `only ${kills.length} kills`);
  assert.deepEqual([...end.wrong].slice(0, 10), [], 'jobs not in their expected end state');
  assert.ok(end.ok, `left in flight: ${JSON.stringify(end.left)}`);
  assert.deepEqual(unexpected.slice(0, 10), [], 'runs not explained by a kill');
  // every killed execution went back through recovery (the end state proves it; the events time it)
  assert.ok(recovered >= killedExecutions * 0.9, `recovered ${recovered} of ${killedExecutions}`);
  assert.ok(maxRecoverMs < FAST.deadWorkerTimeout * 1000 + 3000, `max_recover_ms ${maxRecoverMs}`);
});
