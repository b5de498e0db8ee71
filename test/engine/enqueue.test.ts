import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { test } from 'node:test';
import { Queue, Job, Retry, Dependency, Callback, DuplicateJobError, keys } from '../../src/index.js';
import { engineFixture } from '../helpers/engine.js';
import { uniq } from '../helpers/util.js';

const fx = engineFixture();
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

test('a job reads back field by field as RQ writes it', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('tasks.add', { args: [2, 3], jobId: 'job-add', meta: { owner: 'ts' }, resultTtl: 600, description: 'add two' });
  assert.equal(job.status, 'queued');
  const h = await fx.redis.hgetall(keys.job('job-add'));
  assert.deepEqual(Object.keys(h).sort(), [
    'created_at', 'data', 'description', 'ended_at', 'enqueued_at', 'failure_callback_name', 'group_id',
    'last_heartbeat', 'meta', 'origin', 'result_ttl', 'started_at', 'status', 'stopped_callback_name',
    'success_callback_name', 'timeout', 'worker_name',
  ]);
  assert.equal(h.status, 'queued');
  assert.match(h.created_at!, ISO);
  assert.match(h.enqueued_at!, ISO);
  for (const f of ['success_callback_name', 'failure_callback_name', 'stopped_callback_name', 'started_at', 'ended_at', 'last_heartbeat', 'worker_name', 'group_id']) {
    assert.equal(h[f], '', f);
  }
  assert.equal(h.origin, name);
  assert.equal(h.description, 'add two');
  assert.equal(h.timeout, '180');
  assert.equal(h.result_ttl, '600');
  assert.equal(h.meta, '{"owner": "ts"}');
  const data = await fx.redis.hgetBuffer(keys.job('job-add'), 'data');
  assert.equal(inflateSync(data!).toString(), '["tasks.add", null, [2, 3], {}]');
  assert.deepEqual(await fx.redis.lrange(keys.queue(name), 0, -1), ['job-add']);
  assert.ok((await fx.redis.smembers(keys.queues)).includes(`rq:queue:${name}`));
  assert.equal(await fx.redis.ttl(keys.job('job-add')), -1);
});

test('options are stored with RQ names and encodings', async () => {
  const q = new Queue(uniq('q'), fx.redis);
  const job = await q.enqueue('tasks.f', {
    kwargs: { name: 'x' },
    jobTimeout: '5m',
    failureTtl: 3600,
    ttl: 100,
    retry: new Retry({ max: 3, interval: [10, 20, 30], enqueueAtFront: true }),
    onSuccess: new Callback('tasks.ok', 30),
    onFailure: 'tasks.bad',
  });
  const h = await fx.redis.hgetall(keys.job(job.id));
  assert.match(job.id, /^[0-9a-f-]{36}$/);
  assert.equal(h.timeout, '300');
  assert.equal(h.failure_ttl, '3600');
  assert.equal(h.ttl, '100');
  assert.equal(h.retries_left, '3');
  assert.equal(h.retry_intervals, '[10, 20, 30]');
  assert.equal(h.enqueue_at_front_on_retry, '1');
  assert.equal(h.success_callback_name, 'tasks.ok');
  assert.equal(h.success_callback_timeout, '30');
  assert.equal(h.failure_callback_name, 'tasks.bad');
  assert.equal(h.failure_callback_timeout, '60');
  assert.equal(h.description, "tasks.f(name='x')");
  const ttl = await fx.redis.ttl(keys.job(job.id));
  assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
});

test('at_front, count, job ids, enqueueMany in one call, unique ids', async () => {
  const q = new Queue(uniq('q'), fx.redis);
  await q.enqueue('t.a', { jobId: uniq('a') });
  const front = await q.enqueue('t.b', { atFront: true });
  const many = await q.enqueueMany(Array.from({ length: 2500 }, (_, i) => ({ func: 't.n', args: [i] })));
  assert.equal(many.length, 2500);
  assert.equal(await q.count(), 2502);
  assert.equal((await q.jobIds(0, 1))[0], front.id);
  assert.equal((await q.jobIds(2, 1))[0], many[0]!.id);
  const id = uniq('u');
  await q.enqueue('t.u', { jobId: id, unique: true });
  await assert.rejects(q.enqueue('t.u', { jobId: id, unique: true }), DuplicateJobError);
  assert.equal(await q.empty(), 2503);
  assert.equal(await q.count(), 0);
  assert.equal(await fx.redis.exists(keys.job(id)), 0);
});

test('bad input is refused before anything is written', async () => {
  const q = new Queue(uniq('q'), fx.redis);
  await assert.rejects(q.enqueue('t.a', { jobId: 'bad:id' }), /Invalid job id/);
  await assert.rejects(q.enqueue('t.a', { jobTimeout: 0 }), /Invalid job timeout/);
  await assert.rejects(q.enqueue('t.a', { ttl: 0 }), /ttl/);
  // (a BigInt is serializable: an exact Python int, issue 15)
  await assert.rejects(q.enqueue('t.a', { args: [new Map()] }), /not JSON serializable/);
  assert.throws(() => new Queue('bad queue', fx.redis), /Invalid queue name/);
  assert.throws(() => new Retry({ max: 0 }), /max/);
  assert.equal(await q.count(), 0);
});

test('dependencies: deferred with RQ keys, released when met at enqueue', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const parent = await q.enqueue('t.p');
  const child = await q.enqueue('t.c', { dependsOn: new Dependency({ jobs: [parent], allowFailure: true }) });
  assert.equal(child.status, 'deferred');
  const h = await fx.redis.hgetall(keys.job(child.id));
  assert.equal(h.status, 'deferred');
  assert.equal(h.dependency_id, parent.id);
  assert.equal(h.dependency_ids, `["${parent.id}"]`);
  assert.equal(h.allow_dependency_failures, '1');
  assert.equal(h.enqueue_at_front, '0');
  assert.equal(h.enqueued_at, undefined);
  assert.deepEqual(await fx.redis.smembers(keys.dependents(parent.id)), [child.id]);
  assert.deepEqual(await fx.redis.smembers(`rq:job::${child.id}:dependencies`), [parent.id]);
  assert.notEqual(await fx.redis.zscore(`rq:deferred:${name}`, child.id), null);
  // a dependency that does not exist (expired) counts as met, as in RQ
  const orphan = await q.enqueue('t.o', { dependsOn: 'no-such-job' });
  assert.equal(orphan.status, 'queued');
});

test('fetch, meta, cancel, requeue and delete', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.a', { meta: { a: 1 } });
  const fetched = await Job.fetch(fx.redis, job.id);
  assert.deepEqual(fetched.meta, { a: 1 });
  assert.equal(fetched.funcName, 't.a');
  await fetched.saveMeta({ a: 2, progress: 'half' });
  assert.deepEqual(await (await Job.fetch(fx.redis, job.id)).getMeta(), { a: 2, progress: 'half' });
  await fetched.cancel();
  assert.equal(await fetched.getStatus(), 'canceled');
  assert.equal(await q.count(), 0);
  assert.equal(await q.canceledJobRegistry.count(), 1);
  await assert.rejects(fetched.cancel(), /already canceled/);
  await fetched.requeue();
  assert.equal(await fetched.getStatus(), 'queued');
  assert.equal(await q.count(), 1);
  await assert.rejects(fetched.requeue(), /not in the failed or canceled registry/);
  await fetched.delete();
  assert.equal(await q.count(), 0);
  assert.equal(await Job.fetchOrNull(fx.redis, job.id), null);
  await assert.rejects(Job.fetch(fx.redis, job.id), /No such job/);
});
