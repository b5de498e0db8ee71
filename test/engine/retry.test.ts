import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Job, Retry, keys, currentJob } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();

/** Fails a job `max` times in the fail script and reads where each retry put it (no worker timing involved). */
async function failRepeatedly(max: number, intervals: number[]) {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.fail', { retry: new Retry({ max, interval: intervals }) });
  const seen: Array<{ where: string; wait: number; retriesLeft: number }> = [];
  const w = fx.worker([name], tasks({ 't.fail': () => { throw new Error('x'); } }), { burst: true });
  await w.done;
  for (let attempt = 0; attempt < max; attempt++) {
    const score = await fx.redis.zscore(`rq:scheduled:${name}`, job.id);
    const h = await fx.redis.hgetall(keys.job(job.id));
    if (score !== null) {
      seen.push({ where: 'scheduled', wait: Math.round(Number(score) - Date.now() / 1000), retriesLeft: Number(h.retries_left) });
      // move it back by hand, as the scheduler would, and fail it again
      await fx.redis.zrem(`rq:scheduled:${name}`, job.id);
      await fx.redis.rpush(keys.queue(name), job.id);
      await fx.worker([name], tasks({ 't.fail': () => { throw new Error('x'); } }), { burst: true }).done;
    }
  }
  return { job, seen, name };
}

// RQ's index rule, as fail.lua applies it: the interval list is aligned to its end, read before decrementing.
for (const [max, iv, expected] of [
  [3, [10, 20, 30], [10, 20, 30]],
  [5, [1, 2, 3], [1, 1, 1, 2, 3]],
  [2, [1, 2, 3], [2, 3]],
  [3, [7], [7, 7, 7]],
] as const) {
  test(`exception retries with max=${max}, intervals ${JSON.stringify(iv)} wait ${JSON.stringify(expected)}; then fail for good`, async () => {
    const { job, seen, name } = await failRepeatedly(max, [...iv]);
    assert.deepEqual(seen.map((s) => s.wait), expected);
    assert.deepEqual(seen.map((s) => s.retriesLeft), Array.from({ length: max }, (_, i) => max - 1 - i));
    const j = await Job.fetch(fx.redis, job.id);
    assert.equal(j.status, 'failed');
    assert.equal(j.retriesLeft, 0);
    // retried attempts write no result and no failed entry; only the last one does
    assert.equal(await fx.redis.xlen(keys.results(job.id)), 1);
    assert.notEqual(await fx.redis.zscore(`rq:failed:${name}`, job.id), null);
  });
}

test('interval 0 re-queues at once (at the front when asked); every attempt runs', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  let n = 0;
  const order: string[] = [];
  const job = await q.enqueue('t.flaky', { retry: new Retry({ max: 2, enqueueAtFront: true }) });
  await q.enqueue('t.other');
  const w = fx.worker(
    [name],
    tasks({
      't.flaky': () => {
        order.push('flaky');
        if (++n < 3) throw new Error(`attempt ${n}`);
        return n;
      },
      't.other': () => order.push('other'),
    }),
    { burst: true },
  );
  await w.done;
  assert.deepEqual(order, ['flaky', 'flaky', 'flaky', 'other']);
  assert.equal(await (await Job.fetch(fx.redis, job.id)).returnValue(), 3);
  assert.equal(await fx.redis.xlen(keys.results(job.id)), 1);
});

test('a retry after 1 s is scheduled 1 s after the failure and starts no earlier, by Redis\' clock', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  // The second attempt sees the first one's ended_at (written with the retry's
  // schedule, in one script) and its own started_at: both from Redis' clock,
  // so the gap measures the scheduler, not this process' load.
  let gap = NaN;
  let attempts = 0;
  const w = fx.worker(
    [name],
    tasks({
      't.once': () => {
        if (++attempts === 1) throw new Error('first attempt fails');
        const { job } = currentJob();
        gap = (job.startedAt!.getTime() - job.endedAt!.getTime()) / 1000;
      },
    }),
    { withScheduler: true },
  );
  await waitForEvent(w, 'idle');
  await q.enqueue('t.once', { retry: new Retry({ max: 1, interval: 1 }) });
  await waitForEvent(w, 'job-finished');
  // Never early (ms precision of the stored times); late by at most the
  // scheduler's longest sleep (1 s) plus a margin that holds on a loaded machine.
  assert.ok(gap >= 0.999, `retry started ${gap.toFixed(3)} s after the failure: early`);
  assert.ok(gap <= 1.0 + 1.0 + 3.0, `retry started ${gap.toFixed(3)} s after the failure`);
  w.stop();
  await w.done;
});

test('scheduled jobs: enqueueAt/enqueueIn wait in rq:scheduled and the scheduler moves them when due', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const later = await q.enqueueIn(0.3, 't.ok');
  assert.equal(later.status, 'scheduled');
  const far = await q.enqueueAt(new Date(Date.now() + 3600_000), 't.ok');
  const score = Number(await fx.redis.zscore(`rq:scheduled:${name}`, far.id));
  assert.ok(Math.abs(score - (Date.now() / 1000 + 3600)) < 2);
  assert.equal(await q.count(), 0);
  const w = fx.worker([name], tasks({ 't.ok': () => 'ran' }), { withScheduler: true });
  const [j] = await waitForEvent<[Job]>(w, 'job-finished');
  assert.equal(j.id, later.id);
  assert.equal(await (await Job.fetch(fx.redis, far.id)).getStatus(), 'scheduled');
  assert.equal(await fx.redis.get(`rq:scheduler-lock:${name}`), w.name);
  w.stop();
  await w.done;
  assert.equal(await fx.redis.exists(`rq:scheduler-lock:${name}`), 0, 'lock released at stop');
});
