// The admin API (RQ's command.py and suspension.py) and the info snapshot,
// against a Redis of the file's own and real workers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  infoSnapshot,
  InvalidJobOperation,
  isSuspended,
  Job,
  keys,
  NoSuchJobError,
  Queue,
  resume,
  sendShutdown,
  sendStopJob,
  suspend,
} from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();

test('sendStopJob refuses a job that does not exist or is not running, as RQ', async () => {
  await assert.rejects(sendStopJob(fx.redis, uniq('nojob')), NoSuchJobError);
  const queued = await new Queue(uniq('q'), fx.redis).enqueue('t.never');
  await assert.rejects(sendStopJob(fx.redis, queued.id), InvalidJobOperation);
  assert.equal(await (await Job.fetch(fx.redis, queued.id)).getStatus(), 'queued');
});

test('sendStopJob reaches the worker running the job; sendShutdown is heard by that worker alone', async () => {
  const name = uniq('q');
  const w = fx.worker([name], tasks({ 't.hang': () => new Promise(() => {}) }), { name: uniq('w') });
  await waitForEvent(w, 'idle');
  const started = waitForEvent<[Job]>(w, 'job-started');
  const job = await new Queue(name, fx.redis).enqueue('t.hang');
  await started;
  assert.equal(await sendStopJob(fx.redis, job.id), 1);
  const [, , outcome] = await waitForEvent<[Job, string, string]>(w, 'job-failed');
  assert.equal(outcome, 'stopped');
  assert.equal(await sendShutdown(fx.redis, uniq('nobody')), 0);
  assert.equal(await sendShutdown(fx.redis, w.name), 1);
  await w.done;
});

test('suspend and resume: the rq:suspended key RQ reads, with an optional duration', async () => {
  try {
    assert.equal(await isSuspended(fx.redis), false);
    await suspend(fx.redis, 30);
    assert.equal(await isSuspended(fx.redis), true);
    const ttl = await fx.redis.ttl(keys.suspended);
    assert.ok(ttl > 0 && ttl <= 30, `ttl ${ttl}`);
    await suspend(fx.redis);
    assert.equal(await fx.redis.ttl(keys.suspended), -1);
    await resume(fx.redis);
    assert.equal(await isSuspended(fx.redis), false);
    await assert.rejects(suspend(fx.redis, 0), TypeError);
    await assert.rejects(suspend(fx.redis, 1.5), TypeError);
    assert.equal(await isSuspended(fx.redis), false);
  } finally {
    await resume(fx.redis);
  }
});

test('infoSnapshot: counts per queue and the workers listening, read without changing anything', async () => {
  const name = uniq('q');
  const other = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueue('t.a');
  await q.enqueue('t.a');
  await new Queue(other, fx.redis).enqueue('t.a');
  const w = fx.worker([other], tasks({ 't.a': () => 1 }), { name: uniq('w') });
  await waitForEvent(w, 'idle');
  const before = await fx.redis.dbsize();
  const s = await infoSnapshot(fx.redis, [name, other]);
  assert.equal(await fx.redis.dbsize(), before);
  assert.deepEqual(s.queues.map((x) => [x.name, x.queued, x.finished, x.workers]), [
    [name, 2, 0, []],
    [other, 0, 1, [w.name]],
  ]);
  assert.deepEqual(s.workers.map((x) => x.name), [w.name]);
  assert.equal(s.workers[0]!.state, 'idle');
  assert.equal(s.suspended, false);
  const all = await infoSnapshot(fx.redis);
  assert.ok(all.queues.some((x) => x.name === name) && all.queues.some((x) => x.name === other));
  w.stop();
  await w.done;
  await until(async () => (await infoSnapshot(fx.redis, [other])).workers.length === 0);
});
