// (e) Scheduled jobs across the two schedulers. Our queue.enqueueIn writes
// rq:scheduled:<q> (a float score) and Python RQ 1.13's scheduler (a
// non-burst `rq worker --with-scheduler`) enqueues and runs the job; and
// the other way round, Python's enqueue_in (an integer score) is moved by
// our worker's scheduler.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Job, Queue } from '../../src/index.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';
import { loadTasks, py, py1, startRqWorker, tsWorker, interopRedis } from './helpers.js';

describe('scheduled jobs between the TS engine and Python RQ', () => {
  const fx = interopRedis();

  test('queue.enqueueIn(1.5): Python reads it as scheduled, its scheduler enqueues it on time, its worker runs it', async () => {
    const q = uniq('schedq');
    const queue = new Queue(q, fx.redis);
    const before = Date.now();
    const job = await queue.enqueueIn(1.5, 'tasks.add', { args: [20, 22] });
    assert.equal(job.status, 'scheduled');
    const score = Number(await fx.redis.zscore(`rq:scheduled:${q}`, job.id));
    assert.ok(score * 1000 >= before + 1500 && score * 1000 <= Date.now() + 1500, `score ${score}`);

    const [regs, pyJob] = await py(fx.url, [
      { op: 'registries', queue: q },
      { op: 'fetch', id: job.id },
    ]);
    assert.deepEqual(regs.scheduled, [job.id]);
    assert.ok(Math.abs(regs.scheduled_at[job.id] - score) < 0.001);
    assert.deepEqual(regs.queued, []);
    assert.equal(pyJob.status, 'scheduled');
    assert.equal(pyJob.enqueued_at, null, 'a scheduled job has no enqueued_at yet');

    const w = startRqWorker(fx.url, [q], ['--with-scheduler', '-n', uniq('pysched').replace(/-/g, '')]);
    try {
      await until(async () => (await Job.fetchOrNull(fx.redis, job.id))?.status === 'finished' || w.proc.exitCode !== null, 15_000, 50);
      assert.equal(w.proc.exitCode, null, `rq worker exited early:\n${w.output()}`);
    } finally {
      await w.stop();
    }
    const done = await Job.fetch(fx.redis, job.id);
    assert.equal(done.status, 'finished', w.output());
    assert.equal(await done.returnValue(), 42);
    const enq = done.enqueuedAt!.getTime() / 1000;
    // Python compares whole seconds, so it is never early and at most ~2 s late.
    assert.ok(enq >= score - 0.01 && enq <= score + 2.5, `enqueued at ${enq}, scheduled for ${score}`);
    assert.equal(await fx.redis.zcard(`rq:scheduled:${q}`), 0);
  });

  test("Python's enqueue_in(1 s) is enqueued by our worker's scheduler and run", async () => {
    const q = uniq('schedq');
    const r = await py1<{ id: string; status: string }>(fx.url, {
      op: 'enqueue',
      queue: q,
      func: 'tasks.hello',
      kwargs: { name: 'later' },
      enqueue_in: 1,
    });
    assert.equal(r.status, 'scheduled');
    const score = Number(await fx.redis.zscore(`rq:scheduled:${q}`, r.id));
    assert.ok(Number.isInteger(score), `Python writes integer seconds, got ${score}`);
    const worker = tsWorker(fx.redis, await loadTasks(), [q], { withScheduler: true });
    const done = waitForEvent<[Job, unknown]>(worker, 'job-finished', (j) => j.id === r.id, 10_000);
    const working = worker.work();
    let job: Job;
    try {
      [job] = await done;
    } finally {
      worker.stop();
      await working;
    }
    assert.ok(job.startedAt!.getTime() / 1000 >= score, 'not run before its time');
    const pyJob = await py1(fx.url, { op: 'fetch', id: r.id });
    assert.equal(pyJob.status, 'finished');
    assert.deepEqual(pyJob.result, { greeting: 'hello later' });
  });
});
