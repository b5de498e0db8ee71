// Chaos 1: worker processes (some with prefetch) SIGKILLed about every
// second while 1,000 jobs over three queues run; a new worker replaces each one. Every job must end
// finished (or failed, for jobs designed to fail), nothing may stay queued,
// started or in wip, and a job may only run twice when an attempt of it was
// on a killed worker (at-least-once).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Retry, type EnqueueSpec } from '../../src/index.js';
import { uniq } from '../helpers/util.js';
import { checkRuns, FAST, Killer, runsByJob, settle, SOAK, summary, WorkerProc, chaosRedis } from './helpers.js';

const fx = chaosRedis();

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
      const job = await new Queue(q, fx.redis).enqueue(spec.func, spec);
      if (spec.func === 'fixtures.flaky') {
        flaky.add(job.id);
        expected.set(job.id, ['failed']);
      } else expected.set(job.id, ['finished']);
    }
  };

  const strategies = ['default', 'round_robin', 'random'];
  // Every other worker holds jobs parked (prefetch): a killed one's parked
  // jobs must go back to their queues too.
  const prefetches = [0, 2, 0, 1];
  let spawned = 0;
  let parkedHandedBack = 0;
  const startWorker = async () => {
    const w = await WorkerProc.start(fx.server.url, queues, {
      ...FAST,
      concurrency: 3,
      dequeueStrategy: strategies[spawned % 3],
      prefetch: prefetches[spawned++ % prefetches.length],
    });
    w.on('job-recovered', (_id: string, outcome: string) => void (outcome === 'handed-back' && parkedHandedBack++));
    return w;
  };

  await enqueue(0, N / 2);
  const workers = await Promise.all(Array.from({ length: WORKERS }, startWorker));
  const producing = (async () => {
    for (let i = N / 2; i < N; i += 50) {
      await enqueue(i, Math.min(N, i + 50));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // The faults: every ~second a random live worker is SIGKILLed and replaced.
  const killer = new Killer(fx.redis, workers, startWorker);
  killer.start([700, 1300], SOAK ? 600_000 : 60_000);

  await producing;
  const t0 = Date.now();
  const end = await settle(fx.redis, queues, expected, SOAK ? 900_000 : 120_000);
  await killer.stop();
  const settleMs = Date.now() - t0;

  // Runs per job, from the task's own records.
  const runs = await runsByJob(fx.redis, tag);
  const { duplicated, unexpected } = checkRuns(
    [...expected.keys()].filter((id) => !flaky.has(id)),
    runs,
    killer.killedAttempts,
  );
  for (const id of flaky) {
    // one run per attempt; an attempt on a killed worker may never have started
    const n = runs.get(id)?.length ?? 0;
    if (n < 1 || n > FLAKY_RETRIES + 1) unexpected.push(`${id}: flaky job ran ${n} times`);
  }
  const { killedExecutions, recovered, maxRecoverMs } = killer.recovery();
  const kills = killer.kills;
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
    parked_handed_back: parkedHandedBack,
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
