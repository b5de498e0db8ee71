// The worker's per-queue default retry (WorkerOptions.queueRetry): applied by
// the fail script to jobs that carry no retry of their own, written into the
// job as RQ's Retry would have been.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Job, Retry, UnrecoverableError, keys } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until } from '../helpers/util.js';

const fx = engineFixture();
/** Redis' clock, as the fail script reads it (float seconds). */
async function redisNow(): Promise<number> {
  const [sec, us] = await fx.redis.time();
  return Number(sec) + Number(us) / 1e6;
}
const boom = () => {
  throw new Error('transient');
};

test('a job without a retry of its own gets the queue default: fields as RQ writes them, end-aligned waits', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.boom');
  assert.equal((await fx.redis.hexists(keys.job(job.id), 'retries_left')), 0);
  const waits: number[] = [];
  const left: string[] = [];
  // max 4, intervals [7, 9]: RQ's index rule gives 7, 7, 7, 9
  const opts = { burst: true, queueRetry: { [name]: { max: 4, intervals: [7, 9] } } };
  for (let attempt = 0; attempt < 5; attempt++) {
    await fx.worker([name], tasks({ 't.boom': boom }), opts).done;
    const score = await fx.redis.zscore(`rq:scheduled:${name}`, job.id);
    const h = await fx.redis.hgetall(keys.job(job.id));
    if (score === null) break;
    waits.push(Math.round(Number(score) - (await redisNow())));
    left.push(h.retries_left!);
    assert.equal(h.retry_intervals, '[7, 9]', 'Python json.dumps spelling');
    await fx.redis.zrem(`rq:scheduled:${name}`, job.id);
    await fx.redis.rpush(keys.queue(name), job.id);
  }
  assert.deepEqual(waits, [7, 7, 7, 9]);
  assert.deepEqual(left, ['3', '2', '1', '0']);
  const j = await Job.fetch(fx.redis, job.id);
  assert.equal(j.status, 'failed');
  assert.notEqual(await fx.redis.zscore(`rq:failed:${name}`, job.id), null);
});

test('a job with its own Retry keeps it; the queue default is not applied', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.boom', { retry: new Retry({ max: 1, interval: 3 }) });
  await fx.worker([name], tasks({ 't.boom': boom }), { burst: true, queueRetry: { [name]: { max: 5, intervals: [60] } } }).done;
  const h = await fx.redis.hgetall(keys.job(job.id));
  assert.equal(h.retries_left, '0');
  assert.equal(h.retry_intervals, '[3]');
  const score = Number(await fx.redis.zscore(`rq:scheduled:${name}`, job.id));
  assert.equal(Math.round(score - (await redisNow())), 3);
});

test('an exhausted own retry (retries_left 0) is not topped up by the queue default', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.boom', { retry: new Retry({ max: 1 }) });
  const opts = { burst: true, queueRetry: { [name]: { max: 5, intervals: 0 } } };
  await fx.worker([name], tasks({ 't.boom': boom }), opts).done;
  assert.equal((await Job.fetch(fx.redis, job.id)).status, 'failed');
});

test('UnrecoverableError is never retried, whatever the queue default', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.perm');
  const perm = () => {
    throw new UnrecoverableError('bad input');
  };
  await fx.worker([name], tasks({ 't.perm': perm }), { burst: true, queueRetry: { [name]: { max: 3, intervals: 0 } } }).done;
  const h = await fx.redis.hgetall(keys.job(job.id));
  assert.equal(h.status, 'failed');
  assert.equal(h.retries_left, undefined);
});

test('interval 0 requeues at once; the job runs max + 1 times, then fails; other queues are untouched', async () => {
  const name = uniq('q');
  const other = uniq('q');
  const job = await new Queue(name, fx.redis).enqueue('t.count');
  const plain = await new Queue(other, fx.redis).enqueue('t.count');
  let runs = 0;
  const count = () => {
    runs++;
    throw new Error('again');
  };
  await fx.worker([name, other], tasks({ 't.count': count }), { burst: true, queueRetry: { [name]: { max: 2, intervals: 0 } } }).done;
  assert.equal(runs, 4, 'three runs of the retried job, one of the plain one');
  assert.equal((await Job.fetch(fx.redis, job.id)).status, 'failed');
  const p = await fx.redis.hgetall(keys.job(plain.id));
  assert.equal(p.status, 'failed');
  assert.equal(p.retries_left, undefined);
});

test('a job abandoned by a dead worker is retried on the queue default by the worker that recovers it', async () => {
  const name = uniq('q');
  const job = await new Queue(name, fx.redis).enqueue('t.ok');
  // a worker that takes the job and dies: its execution is left in wip
  const { birth, dequeue } = await import('../../src/engine/transitions.js');
  const dead = uniq('dead');
  await birth(fx.redis, { worker: dead, keyTtl: 10, queues: [name], fields: [] });
  await dequeue(fx.redis, dead, { count: 1, hbTtl: 1, execTtl: 80, queues: [name], execIds: ['e1'] });
  await fx.redis.del(keys.worker(dead));
  const w = fx.worker([name], tasks({ 't.ok': () => 'second' }), {
    jobMonitoringInterval: 0.3,
    deadWorkerTimeout: 1,
    recoveryInterval: 0.2,
    queueRetry: { [name]: { max: 1, intervals: 0 } },
  });
  await until(async () => (await fx.redis.hget(keys.job(job.id), 'status')) === 'finished', 20_000);
  assert.equal(await fx.redis.hget(keys.job(job.id), 'retries_left'), '0');
  w.stop();
  await w.done;
});

test('a bad queueRetry is refused at construction', () => {
  assert.throws(
    () => fx.worker(['q'], tasks({}), { queueRetry: { q: { max: -1, intervals: 0 } } }),
    /queueRetry\['q'\]/,
  );
});
