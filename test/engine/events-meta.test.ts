// Worker events carry how the end was recorded; Job.updateMeta merges atomically.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Job, NoSuchJobError, keys, type Outcome } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();

test("job-finished carries the recording's outcome ('finished')", async () => {
  const name = uniq('q');
  const job = await new Queue(name, fx.redis).enqueue('t.ok');
  const w = fx.worker([name], tasks({ 't.ok': () => 7 }));
  const [fin, value, outcome] = await waitForEvent<[Job, unknown, Outcome]>(w, 'job-finished', undefined, 15_000);
  assert.equal(fin.id, job.id);
  assert.equal(value, 7);
  assert.equal(outcome, 'finished');
  w.stop();
  await w.done;
});

test('updateMeta: concurrent patches of different keys all land, on top of what another writer saved', async () => {
  const name = uniq('q');
  const job = await new Queue(name, fx.redis).enqueue('t.ok', { meta: { task_id: 12 } });
  const conns = [fx.connection(), fx.connection(), fx.connection()];
  await Promise.all(
    Array.from({ length: 30 }, (_, i) => Job.fetch(conns[i % 3]!, job.id).then((j) => j.updateMeta({ [`k${i}`]: i }))),
  );
  const meta = JSON.parse((await fx.redis.hget(keys.job(job.id), 'meta'))!) as Record<string, number>;
  assert.equal(meta.task_id, 12);
  for (let i = 0; i < 30; i++) assert.equal(meta[`k${i}`], i, `k${i} kept`);
});

test('updateMeta: undefined removes a key; the hash of a deleted job is not recreated', async () => {
  const name = uniq('q');
  const job = await new Queue(name, fx.redis).enqueue('t.ok', { meta: { a: 1, b: 2 } });
  assert.deepEqual(await job.updateMeta({ a: undefined, c: 'x' }), { b: 2, c: 'x' });
  assert.equal(await fx.redis.hget(keys.job(job.id), 'meta'), '{"b": 2, "c": "x"}');
  await fx.redis.del(keys.job(job.id));
  await assert.rejects(job.updateMeta({ d: 1 }), NoSuchJobError);
  assert.equal(await fx.redis.exists(keys.job(job.id)), 0);
});
