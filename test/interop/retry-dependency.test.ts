// (d) Python enqueues a job with Retry(max=3, interval=[1, 2, 3]) that fails
// twice and then succeeds, plus a job that depends on it. Our worker (with
// its scheduler) retries it after 1 s, then 2 s (RQ's index rule, as RQ's Job.get_retry_interval:
// the intervals list is aligned to its end, read before retries_left is
// decremented), then releases the dependent. Python reads every step.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { type Job, type TaskRegistry } from '../../src/index.js';
import { uniq, waitForEvent } from '../helpers/util.js';
import { loadTasks, py, py1, tsWorker, interopRedis } from './helpers.js';

async function redisNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) + Number(us) / 1e6;
}

describe('retry and dependency interop (Python enqueues, TS worker retries)', () => {
  const fx = interopRedis();
  let tasks: TaskRegistry;
  before(async () => {
    tasks = await loadTasks();
  });

  test('Retry(max=3, interval=[1,2,3]): waits 1 s then 2 s, then the dependent runs', async () => {
    const q = uniq('retryq');
    const counter = uniq('ctr');
    const [flaky] = await py<{ id: string; status: string }>(fx.url, [
      { op: 'enqueue', queue: q, func: 'tasks.flaky', args: [counter, 2], retry: { max: 3, interval: [1, 2, 3] } },
    ]);
    const [child] = await py<{ id: string; status: string }>(fx.url, [
      { op: 'enqueue', queue: q, func: 'tasks.add', args: [40, 2], depends_on: [flaky!.id] },
    ]);
    assert.equal(flaky!.status, 'queued');
    assert.equal(child!.status, 'deferred');

    const worker = tsWorker(fx.redis, tasks, [q], { withScheduler: true });
    const starts: number[] = [];
    const failures: Array<{ at: number; outcome: string; retriesLeft: string | null; status: string | null; scoreAhead: number; score: number }> = [];
    const checks: Promise<void>[] = [];
    worker.on('job-started', (job) => {
      if (job.id === flaky!.id) starts.push(Date.now());
    });
    worker.on('job-failed', (job, _err, outcome) => {
      if (job.id !== flaky!.id) return;
      const at = Date.now();
      checks.push(
        (async () => {
          const now = await redisNow(fx.redis);
          const [retriesLeft, status] = await fx.redis.hmget(`rq:job:${job.id}`, 'retries_left', 'status');
          const score = Number(await fx.redis.zscore(`rq:scheduled:${q}`, job.id));
          failures.push({ at, outcome, retriesLeft: retriesLeft ?? null, status: status ?? null, scoreAhead: score - now, score });
        })(),
      );
    });
    // While the second wait (2 s) runs, Python reads the scheduled registry.
    let pyView: any;
    const secondFailure = waitForEvent<[Job, string, string]>(worker, 'job-failed', () => checks.length >= 2, 10_000);
    const childDone = waitForEvent<[Job, unknown]>(worker, 'job-finished', (job) => job.id === child!.id, 15_000);
    const working = worker.work();
    try {
      await secondFailure;
      await Promise.all(checks);
      pyView = await py(fx.url, [
        { op: 'registries', queue: q },
        { op: 'fetch', id: flaky!.id },
        { op: 'fetch', id: child!.id },
      ]);
      await childDone;
    } finally {
      worker.stop();
      await working;
    }
    await Promise.all(checks);

    assert.equal(failures.length, 2, JSON.stringify(failures));
    const [f1, f2] = failures as [(typeof failures)[0], (typeof failures)[0]];
    assert.equal(f1.outcome, 'scheduled');
    assert.equal(f1.retriesLeft, '2');
    assert.equal(f1.status, 'scheduled');
    assert.ok(f1.scoreAhead > 0.5 && f1.scoreAhead <= 1.0, `first retry scheduled ${f1.scoreAhead} s ahead, want 1 s`);
    assert.equal(f2.outcome, 'scheduled');
    assert.equal(f2.retriesLeft, '1');
    assert.equal(f2.status, 'scheduled');
    assert.ok(f2.scoreAhead > 1.5 && f2.scoreAhead <= 2.0, `second retry scheduled ${f2.scoreAhead} s ahead, want 2 s`);

    assert.equal(starts.length, 3);
    const wait1 = (starts[1]! - f1.at) / 1000;
    const wait2 = (starts[2]! - f2.at) / 1000;
    assert.ok(wait1 >= 0.85 && wait1 < 1.9, `first retry ran after ${wait1} s`);
    assert.ok(wait2 >= 1.85 && wait2 < 2.9, `second retry ran after ${wait2} s`);

    // What Python saw during the 2 s wait.
    const [regs, pyFlaky, pyChild] = pyView;
    assert.deepEqual(regs.scheduled, [flaky!.id]);
    assert.ok(Math.abs(regs.scheduled_at[flaky!.id] - f2.score) < 0.001, 'Python reads our (float) score as the scheduled time');
    assert.deepEqual(regs.deferred, [child!.id]);
    assert.deepEqual(regs.queued, []);
    assert.deepEqual(regs.failed, [], 'a retried attempt is not a failure');
    assert.equal(pyFlaky.status, 'scheduled');
    assert.equal(pyFlaky.retries_left, 1);
    assert.deepEqual(pyFlaky.retry_intervals, [1, 2, 3]);
    assert.equal(pyFlaky.latest_result, null, 'no Result for retried attempts');
    assert.equal(pyChild.status, 'deferred');

    // And after the run.
    const [endFlaky, endChild, endRegs] = await py(fx.url, [
      { op: 'fetch', id: flaky!.id },
      { op: 'fetch', id: child!.id },
      { op: 'registries', queue: q },
    ]);
    assert.equal(await fx.redis.get(counter), '3');
    assert.equal(endFlaky.status, 'finished');
    assert.equal(endFlaky.result, 3);
    assert.equal(endFlaky.retries_left, 1);
    assert.equal(endFlaky.results.length, 1);
    assert.equal(endChild.status, 'finished');
    assert.equal(endChild.result, 42);
    assert.deepEqual(endChild.dependency_ids, [flaky!.id]);
    assert.deepEqual(endRegs.finished.sort(), [flaky!.id, child!.id].sort());
    assert.deepEqual(endRegs.deferred, []);
    assert.deepEqual(endRegs.scheduled, []);
  });

  test('retries exhausted: Python reads failed with retries_left 0; its dependent stays deferred', async () => {
    const q = uniq('retryq');
    const [doomed] = await py<{ id: string }>(fx.url, [
      { op: 'enqueue', queue: q, func: 'tasks.boom', args: ['always'], retry: { max: 2, interval: 0 } },
    ]);
    const [child] = await py<{ id: string; status: string }>(fx.url, [
      { op: 'enqueue', queue: q, func: 'tasks.add', args: [1, 1], depends_on: [doomed!.id] },
    ]);
    assert.equal(child!.status, 'deferred');
    const worker = tsWorker(fx.redis, tasks, [q], { burst: true });
    const outcomes: string[] = [];
    worker.on('job-failed', (_job, _e, outcome) => outcomes.push(outcome));
    await worker.work();
    assert.deepEqual(outcomes, ['retried', 'retried', 'failed']);
    const job = await py1(fx.url, { op: 'fetch', id: doomed!.id });
    assert.equal(job.status, 'failed');
    assert.equal(job.retries_left, 0);
    assert.equal(job.latest_result.type_name, 'FAILED');
    assert.match(job.exc_info, /always/);
    assert.equal(job.results.length, 1);
    assert.equal((await py1(fx.url, { op: 'fetch', id: child!.id })).status, 'deferred');
  });
});
