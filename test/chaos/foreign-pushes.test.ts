// Chaos: jobs pushed as a Python RQ producer pushes them (the job hash and a
// plain RPUSH, no wake-up signal) reach idle workers through the push watch
// only (their poll comes after the test's deadline), while a worker is
// SIGKILLed every few hundred ms, so that many kills land in the hand-over
// between the wake-up and the dequeue. Every job must end finished, nothing
// may stay queued or in wip, and a job may run twice only when an attempt of
// it was on a killed worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { keys } from '../../src/index.js';
import { uniq } from '../helpers/util.js';
import { checkRuns, FAST, Killer, runsByJob, settle, SOAK, summary, WorkerProc, chaosRedis } from './helpers.js';

const fx = chaosRedis();

test('foreign pushes: jobs RPUSHed one by one to idle workers, a worker SIGKILLed every few hundred ms', { timeout: 300_000 }, async () => {
  const N = SOAK ? 5000 : 800;
  const WORKERS = 3;
  const tag = uniq('pushes');
  const queues = [uniq('a'), uniq('b')];
  const expected = new Map<string, string[]>();
  let spawned = 0;
  const startWorker = () =>
    WorkerProc.start(fx.server.url, queues, { ...FAST, concurrency: 1 + (spawned++ % 2), idlePollInterval: 600_000 });
  const workers = await Promise.all(Array.from({ length: WORKERS }, startWorker));

  const killer = new Killer(fx.redis, workers, startWorker);
  killer.start([150, 400], SOAK ? 600_000 : 120_000);
  for (let i = 0; i < N; i++) {
    const id = uniq('py');
    const q = queues[i % 2]!;
    await fx.redis
      .multi()
      .hset(keys.job(id), {
        data: deflateSync(Buffer.from(JSON.stringify(['fixtures.work', null, [tag, 1 + (i % 20)], {}]))),
        status: 'queued',
        origin: q,
        created_at: '2026-01-01T00:00:00.000000Z',
        enqueued_at: '2026-01-01T00:00:00.000000Z',
        timeout: '180',
        description: 'fixtures.work(...)',
        // RQ's Retry(max=8): a run on a killed worker is retried, not failed
        retries_left: '8',
        retry_intervals: '[0]',
      })
      .rpush(keys.queue(q), id)
      .sadd(keys.queues, keys.queue(q))
      .exec();
    expected.set(id, ['finished']);
    // mostly idle workers: one push at a time, spaced out
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
  }
  const end = await settle(fx.redis, queues, expected, SOAK ? 600_000 : 120_000);
  await killer.stop();

  const runs = await runsByJob(fx.redis, tag);
  const { duplicated, unexpected } = checkRuns(expected.keys(), runs, killer.killedAttempts);
  const { killedExecutions, recovered } = killer.recovery();
  summary('foreign-pushes', {
    jobs: N,
    workers: WORKERS,
    faults: killer.kills.length,
    lost: end.wrong.size,
    duplicated,
    '(killed attempts only)': '',
    killed_executions: killedExecutions,
    recovered,
  });
  assert.ok(killer.kills.length >= 4, `only ${killer.kills.length} kills`);
  assert.deepEqual([...end.wrong].slice(0, 10), [], 'jobs not finished');
  assert.ok(end.ok, `left in flight: ${JSON.stringify(end.left)}`);
  assert.deepEqual(unexpected.slice(0, 10), [], 'runs not explained by a kill');
});
