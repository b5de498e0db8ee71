// Python RQ enqueues a job WITHOUT Retry on a queue for which our worker has a
// default retry (WorkerOptions.queueRetry {max: 4, intervals: [1, 2]}). The
// job fails twice, then succeeds. RQ's index rule with the list aligned to its
// end gives the waits 1 s, 1 s (then 1 s, 2 s had it failed on), and Python
// reads the fields as those of an ordinary Retry(max=4, interval=[1, 2]).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type Job, type TaskRegistry } from '../../src/index.js';
import { uniq, waitForEvent } from '../helpers/util.js';
import { loadTasks, py, py1, tsWorker, interopRedis } from './helpers.js';

describe('per-queue default retry for a Python-enqueued job without Retry', () => {
  const fx = interopRedis();
  let tasks: TaskRegistry;
  before(async () => {
    tasks = await loadTasks();
  });

  test('fails twice, waits per the queue policy (end-aligned), then succeeds; Python sees a retried job', async () => {
    const q = uniq('qretry');
    const counter = uniq('ctr');
    const enq = await py1<{ id: string }>(fx.url, { op: 'enqueue', queue: q, func: 'tasks.flaky', args: [counter, 2] });
    assert.equal(await fx.redis.hexists(`rq:job:${enq.id}`, 'retries_left'), 0, 'Python wrote no retry');

    const worker = tsWorker(fx.redis, tasks, [q], { withScheduler: true, queueRetry: { [q]: { max: 4, intervals: [1, 2] } } });
    const starts: number[] = [];
    const failures: Array<{ at: number; outcome: string; left: string | null; ahead: number }> = [];
    const reads: Promise<void>[] = [];
    worker.on('job-started', (job) => {
      if (job.id === enq.id) starts.push(Date.now());
    });
    worker.on('job-failed', (job, _err, outcome) => {
      if (job.id !== enq.id) return;
      const at = Date.now();
      reads.push(
        (async () => {
          const [s, us] = await fx.redis.time();
          const left = await fx.redis.hget(`rq:job:${job.id}`, 'retries_left');
          const score = Number(await fx.redis.zscore(`rq:scheduled:${q}`, job.id));
          failures.push({ at, outcome, left, ahead: score - (Number(s) + Number(us) / 1e6) });
        })(),
      );
    });
    let duringWait: any;
    const second = waitForEvent(worker, 'job-failed', () => reads.length >= 2, 15_000);
    const done = waitForEvent<[Job, unknown]>(worker, 'job-finished', (job) => job.id === enq.id, 20_000);
    const working = worker.work();
    try {
      await second;
      await Promise.all(reads);
      duringWait = await py1(fx.url, { op: 'fetch', id: enq.id });
      await done;
    } finally {
      worker.stop();
      await working;
    }
    assert.equal(failures.length, 2);
    const [f1, f2] = failures as [(typeof failures)[0], (typeof failures)[0]];
    assert.deepEqual([f1.outcome, f1.left, f2.outcome, f2.left], ['scheduled', '3', 'scheduled', '2']);
    // retries_left 4 → intervals[max(2 - 4, 0)] = 1; 3 → intervals[0] = 1
    assert.ok(f1.ahead > 0.5 && f1.ahead <= 1.0, `first retry ${f1.ahead} s ahead, want 1 s`);
    assert.ok(f2.ahead > 0.5 && f2.ahead <= 1.0, `second retry ${f2.ahead} s ahead, want 1 s`);
    assert.equal(starts.length, 3);
    const wait1 = (starts[1]! - f1.at) / 1000;
    const wait2 = (starts[2]! - f2.at) / 1000;
    assert.ok(wait1 >= 0.85 && wait1 < 1.9, `first retry ran after ${wait1} s`);
    assert.ok(wait2 >= 0.85 && wait2 < 1.9, `second retry ran after ${wait2} s`);

    assert.equal(duringWait.status, 'scheduled');
    assert.equal(duringWait.retries_left, 2);
    assert.deepEqual(duringWait.retry_intervals, [1, 2]);
    const [end] = await py(fx.url, [{ op: 'fetch', id: enq.id }]);
    assert.equal(end.status, 'finished');
    assert.equal(end.result, 3);
    assert.equal(await fx.redis.get(counter), '3');
  });
});
