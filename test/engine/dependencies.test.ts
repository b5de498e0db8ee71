import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Job, Dependency, Retry, keys, sendStopJob } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();
const ok = () => 'ok';
const boom = () => {
  throw new Error('parent failed');
};
const status = async (id: string) => (await Job.fetch(fx.redis, id)).getStatus();

test('a chain A -> B -> C runs in order', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const order: string[] = [];
  const rec = (tag: string) => order.push(tag);
  const a = await q.enqueue('t.rec', { args: ['A'] });
  const b = await q.enqueue('t.rec', { args: ['B'], dependsOn: a });
  const c = await q.enqueue('t.rec', { args: ['C'], dependsOn: b.id });
  assert.deepEqual([b.status, c.status], ['deferred', 'deferred']);
  await fx.worker([name], tasks({ 't.rec': rec }), { burst: true }).done;
  assert.deepEqual(order, ['A', 'B', 'C']);
  assert.equal(await fx.redis.zcard(`rq:deferred:${name}`), 0);
  assert.equal(await fx.redis.exists(keys.dependents(a.id)), 0);
});

test('fan-in: one job waits for 50 parents; fan-out: 50 jobs wait for one', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const ran: string[] = [];
  const parents = await q.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ func: 't.rec', args: [`p${i}`] })));
  const join = await q.enqueue('t.rec', { args: ['join'], dependsOn: parents });
  const root = await q.enqueue('t.rec', { args: ['root'] });
  const children = await q.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ func: 't.rec', args: [`c${i}`], dependsOn: root.id })));
  assert.equal(join.status, 'deferred');
  assert.ok(children.every((c) => c.status === 'deferred'));
  await fx.worker([name], tasks({ 't.rec': (t: string) => ran.push(t) }), { burst: true, concurrency: 8 }).done;
  assert.equal(ran.length, 102);
  const idx = (t: string) => ran.indexOf(t);
  for (let i = 0; i < 50; i++) {
    assert.ok(idx(`p${i}`) < idx('join'));
    assert.ok(idx('root') < idx(`c${i}`));
  }
  assert.equal(ran.filter((t) => t === 'join').length, 1, 'released exactly once');
});

test('dependents cross queues: released into their own queue', async () => {
  const [qa, qb] = [uniq('qa'), uniq('qb')];
  const parent = await new Queue(qa, fx.redis).enqueue('t.ok');
  const child = await new Queue(qb, fx.redis).enqueue('t.ok', { dependsOn: parent });
  await fx.worker([qa], tasks({ 't.ok': ok }), { burst: true }).done;
  assert.equal(await status(child.id), 'queued');
  assert.deepEqual(await new Queue(qb, fx.redis).jobIds(), [child.id]);
  assert.equal(await fx.redis.zscore(`rq:deferred:${qb}`, child.id), null);
});

test('a parent failing for good: allowFailure releases, default stays deferred (as RQ), cancelOnFailure cancels the whole chain', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const parent = await q.enqueue('t.boom', { retry: new Retry({ max: 1 }) });
  const tolerant = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: parent, allowFailure: true }) });
  const faithful = await q.enqueue('t.ok', { dependsOn: parent });
  const c1 = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: parent, cancelOnFailure: true }) });
  const c2 = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: c1, cancelOnFailure: true }) });
  const c3 = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: [c2], cancelOnFailure: true }) });
  await fx.worker([name], tasks({ 't.ok': ok, 't.boom': boom }), { burst: true }).done;
  assert.equal(await status(parent.id), 'failed');
  assert.equal(await status(tolerant.id), 'finished');
  assert.equal(await status(faithful.id), 'deferred');
  for (const c of [c1, c2, c3]) {
    const j = await Job.fetch(fx.redis, c.id);
    assert.equal(j.status, 'canceled', c.id);
    assert.match(j.cancelReason!, new RegExp(parent.id), 'the reason names the failed parent');
    assert.notEqual(await fx.redis.zscore(`rq:canceled:${name}`, c.id), null);
    assert.equal(await fx.redis.zscore(`rq:deferred:${name}`, c.id), null);
  }
  // a retried attempt released nothing early: the tolerant child ran after the final failure only
  assert.equal(await fx.redis.xlen(keys.results(tolerant.id)), 1);
});

test('a parent that already failed: allowFailure enqueues, cancelOnFailure cancels at once', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const parent = await q.enqueue('t.boom');
  await fx.worker([name], tasks({ 't.boom': boom }), { burst: true }).done;
  const tolerant = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: parent, allowFailure: true }) });
  const canceled = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: parent, cancelOnFailure: true }) });
  assert.equal(tolerant.status, 'queued');
  assert.equal(canceled.status, 'canceled');
  assert.match((await Job.fetch(fx.redis, canceled.id)).cancelReason!, new RegExp(`${parent.id} ended failed`));
});

test('a stopped or canceled parent: dependents stay deferred unless they asked to be canceled', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const parent = await q.enqueue('t.ok');
  const waiting = await q.enqueue('t.ok', { dependsOn: parent });
  const cancels = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: parent, cancelOnFailure: true }) });
  await parent.cancel();
  assert.equal(await status(waiting.id), 'deferred');
  assert.equal(await status(cancels.id), 'canceled');

  const p2 = await q.enqueue('t.ok');
  const released = await q.enqueue('t.ok', { dependsOn: p2 });
  await p2.cancel({ enqueueDependents: true });
  assert.equal(await status(released.id), 'queued');

  const name2 = uniq('q');
  const q2 = new Queue(name2, fx.redis);
  const w = fx.worker([name2], tasks({ 't.hang': () => new Promise(() => {}), 't.ok': ok }), { name: uniq('w') });
  const started = waitForEvent<[Job]>(w, 'job-started');
  const stopped = await q2.enqueue('t.hang');
  const d1 = await q2.enqueue('t.ok', { dependsOn: stopped });
  const d2 = await q2.enqueue('t.ok', { dependsOn: new Dependency({ jobs: stopped, cancelOnFailure: true, allowFailure: true }) });
  await started;
  await sendStopJob(fx.redis, stopped.id);
  await waitForEvent(w, 'job-failed');
  assert.equal(await status(stopped.id), 'stopped');
  assert.equal(await status(d1.id), 'deferred');
  assert.equal(await status(d2.id), 'canceled');
  w.stop();
  await w.done;
});

test('enqueueMany with dependencies inside the batch; delete with dependents', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const aid = uniq('a');
  const [a, b] = await q.enqueueMany([
    { func: 't.ok', jobId: aid },
    { func: 't.ok', dependsOn: aid },
  ]);
  assert.equal(b!.status, 'deferred');
  assert.deepEqual(await fx.redis.smembers(keys.dependents(aid)), [b!.id]);
  const c = await q.enqueue('t.ok', { dependsOn: a! });
  const d = await q.enqueue('t.ok', { dependsOn: c });
  await a!.delete({ deleteDependents: true });
  assert.equal(await Job.fetchOrNull(fx.redis, b!.id), null);
  assert.equal(await Job.fetchOrNull(fx.redis, c.id), null);
  assert.equal(await Job.fetchOrNull(fx.redis, d.id), null);
  assert.equal(await fx.redis.zcard(`rq:deferred:${name}`), 0);
});
