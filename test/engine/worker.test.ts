import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import {
  Queue,
  Job,
  Retry,
  UnrecoverableError,
  ResultType,
  currentJob,
  keys,
  Callback,
  isSuspended,
  resume,
  sendKillHorse,
  sendShutdown,
  sendStopJob,
  suspend,
} from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { pushLikePython } from '../helpers/python-producer.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

test('a finished job leaves RQ state: result stream, finished registry, TTLs, worker counters', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.add', { args: [2, 3] });
  const w = fx.worker([name], tasks({ 't.add': (a: number, b: number) => a + b }), { burst: true, name: uniq('w') });
  await w.done;
  const h = await fx.redis.hgetall(keys.job(job.id));
  assert.equal(h.status, 'finished');
  assert.equal(h.worker_name, w.name);
  assert.match(h.started_at!, /Z$/);
  assert.match(h.ended_at!, /Z$/);
  const ttl = await fx.redis.ttl(keys.job(job.id));
  assert.ok(ttl > 490 && ttl <= 500, `job ttl ${ttl}`);
  const [[, flat]] = (await fx.redis.xrange(keys.results(job.id), '-', '+')) as [[string, string[]]];
  const f = Object.fromEntries(flat.reduce<string[][]>((a, v, i) => (i % 2 ? a[a.length - 1]!.push(v) : a.push([v]), a), []));
  assert.equal(f.type, '1');
  assert.equal(f.worker_name, w.name);
  assert.equal(f.return_value, 'NQ==');
  assert.match(f.execution_id!, /^[0-9a-f]{32}$/);
  assert.match(f.execution_started_at!, /^\d+\.\d{6}$/);
  const score = Number(await fx.redis.zscore(`rq:finished:${name}`, job.id));
  assert.ok(Math.abs(score - (Date.now() / 1000 + 500)) < 5);
  // to the microsecond, not RQ's whole second: the end's instant + result_ttl
  const endedAt = Date.parse((await fx.redis.hget(keys.job(job.id), 'ended_at'))!) / 1000;
  assert.ok(Math.abs(score - 500 - endedAt) < 0.002, `score ${score}, ended_at ${endedAt}`);
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 0);
  assert.equal(await fx.redis.exists(keys.executions(job.id)), 0);
  const wh = await fx.redis.hgetall(keys.worker(w.name));
  assert.equal(wh.successful_job_count, '1');
  assert.ok(wh.death, 'death recorded');
  assert.equal(await fx.redis.sismember(keys.workers, keys.worker(w.name)), 0);
  assert.equal(await (await Job.fetch(fx.redis, job.id)).returnValue(), 5);
});

test("a worker's counters are exact once it is idle, every failed attempt counted (RQ's successful_job_count, failed_job_count)", async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueueMany([{ func: 't.ok' }, { func: 't.ok' }, { func: 't.ok' }, { func: 't.boom', retry: new Retry({ max: 1 }) }]);
  const w = fx.worker([name], tasks({ 't.ok': () => 1, 't.boom': () => { throw new Error('boom'); } }), { idlePollInterval: 60_000 });
  await waitForEvent<[Job, string, string]>(w, 'job-failed', (_j, _e, outcome) => outcome === 'failed');
  // an idle worker writes them soon, with no job to carry them (its heartbeats do not)
  await until(async () => (await fx.redis.hget(keys.worker(w.name), 'failed_job_count')) === '2');
  const wh = await fx.redis.hgetall(keys.worker(w.name));
  assert.deepEqual([wh.successful_job_count, wh.failed_job_count], ['3', '2']);
  assert.match(wh.total_working_time!, /^\d+\.\d{6}$/);
  w.stop();
  await w.done;
});

test('a busy worker shows RQ running state: wip job:execution, executions, worker busy with current_job', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const g = gate();
  const started = gate();
  const job = await q.enqueue('t.block');
  const w = fx.worker([name], tasks({ 't.block': async () => (started.open(), await g.p) }), { name: uniq('w') });
  await started.p;
  const [member] = await fx.redis.zrange(`rq:wip:${name}`, '0', '-1');
  const [jid, eid] = member!.split(':');
  assert.equal(jid, job.id);
  const ex = await fx.redis.hgetall(keys.execution(job.id, eid!));
  assert.equal(ex.job_id, job.id);
  assert.equal(ex.worker_name, w.name);
  assert.match(ex.created_at!, /^\d+\.\d+$/);
  assert.deepEqual(await fx.redis.zrange(keys.executions(job.id), '0', '-1'), [eid]);
  const wh = await fx.redis.hgetall(keys.worker(w.name));
  assert.equal(wh.state, 'busy');
  assert.equal(wh.current_job, job.id);
  assert.equal(wh.queues, name);
  assert.deepEqual(await fx.redis.smembers(keys.workerExecutions(w.name)), [member]);
  assert.equal(await fx.redis.sismember(`rq:workers:${name}`, keys.worker(w.name)), 1);
  assert.equal((await Job.fetch(fx.redis, job.id)).status, 'started');
  g.open();
  await waitForEvent(w, 'job-finished');
  await until(async () => (await fx.redis.hget(keys.worker(w.name), 'state')) === 'idle');
  assert.equal(await fx.redis.hget(keys.worker(w.name), 'current_job'), null);
  w.stop();
  await w.done;
});

test('failures: stored traceback, failed registry, failure TTL; unknown task and malformed jobs fail alone', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const boom = await q.enqueue('t.boom');
  const unknown = await q.enqueue('t.nope');
  const strange = await q.enqueue('t.strange');
  // a hand-written job whose data is neither zlib nor JSON, and one with a pickle
  await fx.redis.hset(keys.job('bad-data'), { data: 'garbage', status: 'queued', origin: name });
  await fx.redis.hset(keys.job('pickled'), { data: deflateSync(Buffer.from([0x80, 0x05, 0x4b, 0x01])), status: 'queued', origin: name });
  await fx.redis.rpush(keys.queue(name), 'bad-data', 'pickled', 'no-hash-at-all');
  const ok = await q.enqueue('t.ok');
  const w = fx.worker(
    [name],
    tasks({
      't.boom': () => {
        throw new TypeError('kaboom');
      },
      't.strange': () => {
        throw { code: 42 };
      },
      't.ok': () => 'fine',
    }),
    { burst: true },
  );
  await w.done;
  const res = async (id: string) => (await Job.fetch(fx.redis, id)).latestResult();
  const rb = await res(boom.id);
  assert.equal(rb!.type, ResultType.FAILED);
  assert.match(rb!.excString!, /TypeError: kaboom/);
  assert.match(rb!.excString!, /^  File "/m, 'has the frames, in Python form');
  assert.match((await res(unknown.id))!.excString!, /No task registered as 't.nope'/);
  assert.match((await res(strange.id))!.excString!, /Non-Error thrown: \{"code":42\}/);
  assert.match((await res('bad-data'))!.excString!, /not JSON/);
  assert.match((await res('pickled'))!.excString!, /pickle/);
  assert.equal((await Job.fetch(fx.redis, ok.id)).status, 'finished');
  for (const id of [boom.id, unknown.id, strange.id, 'bad-data', 'pickled']) {
    assert.equal((await Job.fetch(fx.redis, id)).status, 'failed', id);
    const score = Number(await fx.redis.zscore(`rq:failed:${name}`, id));
    assert.ok(Math.abs(score - (Date.now() / 1000 + 31536000)) < 5, `failed score of ${id}`);
  }
  const ttl = await fx.redis.ttl(keys.job(boom.id));
  assert.ok(ttl > 31535000, `failed job ttl ${ttl}`);
  assert.equal(await fx.redis.hget(keys.worker(w.name), 'failed_job_count'), '5');
});

test('result_ttl 0 deletes the job at once; -1 keeps it and its result forever', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const gone = await q.enqueue('t.ok', { resultTtl: 0 });
  const kept = await q.enqueue('t.ok', { resultTtl: -1 });
  const w = fx.worker([name], tasks({ 't.ok': () => 1 }), { burst: true });
  await w.done;
  assert.equal(await fx.redis.exists(keys.job(gone.id)), 0);
  assert.equal(await fx.redis.exists(keys.results(gone.id)), 0);
  assert.equal(await fx.redis.zscore(`rq:finished:${name}`, gone.id), null);
  assert.equal(await fx.redis.ttl(keys.job(kept.id)), -1);
  assert.equal(await fx.redis.ttl(keys.results(kept.id)), -1);
  assert.equal(await fx.redis.zscore(`rq:finished:${name}`, kept.id), 'inf');
});

test('timeout: a handler that never settles fails as a timeout, gets its signal aborted, and the worker goes on', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const hung = await q.enqueue('t.hang', { jobTimeout: 1 });
  const next = await q.enqueue('t.ok');
  let aborted: unknown;
  const w = fx.worker(
    [name],
    tasks({
      't.hang': () => {
        currentJob().signal.addEventListener('abort', () => (aborted = currentJobReason()));
        return new Promise(() => {});
      },
      't.ok': () => 'ok',
    }),
    { burst: true },
  );
  function currentJobReason() {
    return 'aborted';
  }
  await w.done;
  const r = await (await Job.fetch(fx.redis, hung.id)).latestResult();
  assert.match(r!.excString!, /Task exceeded maximum timeout value \(1 seconds\)/);
  assert.equal(aborted, 'aborted');
  assert.equal((await Job.fetch(fx.redis, next.id)).status, 'finished');
});

test('currentJob() names the queue the job came from and the worker running it', async () => {
  const name = uniq('q');
  const seen: unknown[] = [];
  await new Queue(name, fx.redis).enqueue('t.where', { onSuccess: 't.cb' });
  const where = () => {
    const c = currentJob();
    seen.push([c.job.funcName, c.queueName, c.workerName]);
  };
  const w = fx.worker([uniq('empty'), name], tasks({ 't.where': where, 't.cb': where }), { burst: true, name: uniq('w') });
  await w.done;
  assert.deepEqual(seen, [
    ['t.where', name, w.name],
    ['t.where', name, w.name],
  ]);
});

test('the handler sees its job, args and kwargs; callbacks run on success and failure', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const seen: unknown[] = [];
  await q.enqueue('t.echo', { args: [1, 'a'], kwargs: { k: true }, onSuccess: new Callback('t.onok') });
  await q.enqueue('t.fail', { onFailure: 't.onfail' });
  const w = fx.worker(
    [name],
    tasks({
      't.echo': (...args: unknown[]) => (seen.push(args, currentJob().job.funcName), 'r'),
      't.fail': () => {
        throw new Error('no');
      },
      't.onok': (job: Job, _c: unknown, result: unknown) => seen.push(['ok', job.funcName, result]),
      't.onfail': (job: Job, _c: unknown, err: Error) => seen.push(['fail', job.funcName, err.message]),
    }),
    { burst: true },
  );
  await w.done;
  assert.deepEqual(seen, [[1, 'a', { k: true }], 't.echo', ['ok', 't.echo', 'r'], ['fail', 't.fail', 'no']]);
});

test('concurrency N runs N jobs at once in one process', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueueMany(Array.from({ length: 8 }, () => ({ func: 't.block' })));
  const g = gate();
  let active = 0;
  let peak = 0;
  const w = fx.worker(
    [name],
    tasks({
      't.block': async () => {
        active++;
        peak = Math.max(peak, active);
        await g.p;
        active--;
      },
    }),
    { concurrency: 4, burst: true },
  );
  await until(() => active === 4);
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 4);
  g.open();
  await w.done;
  assert.equal(peak, 4);
  assert.equal(await q.finishedJobRegistry.count(), 8);
});

test('dequeue strategies: default is strict priority, round_robin rotates', async () => {
  const [a, b] = [uniq('qa'), uniq('qb')];
  const order: string[] = [];
  const t = tasks({ 't.rec': (tag: string) => order.push(tag) });
  for (const strategy of ['default', 'round_robin'] as const) {
    order.length = 0;
    await new Queue(a, fx.redis).enqueueMany([1, 2, 3].map((i) => ({ func: 't.rec', args: [`a${i}`] })));
    await new Queue(b, fx.redis).enqueueMany([1, 2, 3].map((i) => ({ func: 't.rec', args: [`b${i}`] })));
    await fx.worker([a, b], t, { burst: true, dequeueStrategy: strategy }).done;
    assert.deepEqual(order, strategy === 'default' ? ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'] : ['a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
  }
});

test('an idle worker is woken by an enqueue (not by its poll)', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const w1 = fx.worker([name], tasks({ 't.ok': () => 1 }), { idlePollInterval: 60_000 });
  await waitForEvent(w1, 'idle');
  const job = await q.enqueue('t.ok');
  const [j] = await waitForEvent<[Job]>(w1, 'job-finished', undefined, 5000);
  assert.equal(j.id, job.id);
  w1.stop();
  await w1.done;

  w1.stop();
  await w1.done;
});

test('an idle worker of several queues takes a job a foreign producer RPUSHes without waiting for its poll', async () => {
  const [a, b] = [uniq('q'), uniq('q')];
  // The poll would come after the test's deadline: only the push watch can wake it.
  const w = fx.worker([a, b], tasks({ 'tasks.add': (x: number, y: number) => x + y }), { idlePollInterval: 600_000 });
  await waitForEvent(w, 'idle');
  const id = uniq('py-job');
  await pushLikePython(fx.redis, b, id, [2, 3]);
  const [pj, value] = await waitForEvent<[Job, unknown]>(w, 'job-finished', undefined, 10_000);
  assert.equal(pj.id, id);
  assert.equal(value, 5);
  // again once idle: each wake-up ends the watch, which must be renewed
  await waitForEvent(w, 'idle');
  const id2 = uniq('py-job');
  await pushLikePython(fx.redis, a, id2, [4, 5]);
  const [pj2] = await waitForEvent<[Job, unknown]>(w, 'job-finished', undefined, 10_000);
  assert.equal(pj2.id, id2);
  w.stop();
  await w.done;
});

test('max jobs, max idle time and burst end the worker', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueueMany(Array.from({ length: 5 }, () => ({ func: 't.ok' })));
  const w = fx.worker([name], tasks({ 't.ok': () => 1 }), { maxJobs: 3 });
  await w.done;
  assert.equal(w.successfulJobs, 3);
  assert.equal(await q.count(), 2);
  const idle = fx.worker([uniq('q')], tasks({}), { maxIdleTime: 0.3 });
  await idle.done;
});

test('suspension: a burst worker exits, a running worker pauses until resumed', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueue('t.ok');
  const other = fx.connection();
  await suspend(fx.redis);
  assert.equal(await isSuspended(fx.redis), true);
  try {
    const b = fx.worker([name], tasks({ 't.ok': () => 1 }), { burst: true });
    await b.done;
    assert.equal(await q.count(), 1);
    const w = fx.worker([name], tasks({ 't.ok': () => 1 }));
    await until(async () => (await other.hget(keys.worker(w.name), 'state')) === 'suspended');
    assert.equal(await q.count(), 1);
    await resume(fx.redis);
    assert.equal(await isSuspended(fx.redis), false);
    await waitForEvent(w, 'job-finished');
    w.stop();
    await w.done;
  } finally {
    await fx.redis.del(keys.suspended);
  }
});

test('pub/sub commands: garbage is ignored, stop-job stops without retry', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const w = fx.worker([name], tasks({ 't.block': () => new Promise(() => {}) }), { name: uniq('w') });
  await waitForEvent(w, 'idle');
  const pub = fx.connection();
  await pub.publish(keys.pubsub(w.name), 'not json at all');
  await pub.publish(keys.pubsub(w.name), '{"command": "dance"}');

  const stoppedId = uniq('stop');
  const stoppedStarted = waitForEvent<[Job]>(w, 'job-started', (j) => j.id === stoppedId);
  const stopped = await q.enqueue('t.block', { jobId: stoppedId, retry: new Retry({ max: 3 }) });
  await stoppedStarted;
  await sendStopJob(pub, stopped.id);
  const [, , outcome] = await waitForEvent<[Job, string, string]>(w, 'job-failed', (j) => j.id === stopped.id);
  assert.equal(outcome, 'stopped');
  const sj = await Job.fetch(fx.redis, stopped.id);
  assert.equal(sj.status, 'stopped');
  assert.equal(sj.retriesLeft, 3);
  assert.notEqual(await fx.redis.zscore(`rq:failed:${name}`, stopped.id), null);
  assert.match((await sj.latestResult())!.excString!, /Job stopped by user/);
  w.stop({ cold: true });
  await w.done;
});

test('pub/sub commands: kill-horse fails the running job, retry-aware', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const w = fx.worker([name], tasks({ 't.block': () => new Promise(() => {}) }), { name: uniq('w') });
  await waitForEvent(w, 'idle');
  const pub = fx.connection();
  const killedId = uniq('kill');
  let started = waitForEvent<[Job]>(w, 'job-started', (j) => j.id === killedId);
  const killed = await q.enqueue('t.block', { jobId: killedId, retry: new Retry({ max: 1 }) });
  await started;
  started = waitForEvent<[Job]>(w, 'job-started', (j) => j.id === killedId);
  await sendKillHorse(pub, w.name);
  const [, , o1] = await waitForEvent<[Job, string, string]>(w, 'job-failed', (j) => j.id === killed.id);
  assert.equal(o1, 'retried');
  await started;
  await sendKillHorse(pub, w.name);
  const [, , o2] = await waitForEvent<[Job, string, string]>(w, 'job-failed', (j) => j.id === killed.id);
  assert.equal(o2, 'failed');
  w.stop({ cold: true });
  await w.done;
});

test('pub/sub commands: shutdown is warm: the running job finishes, nothing new is taken', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const release = gate();
  const w = fx.worker([name], tasks({ 't.ok': () => 1, 't.gated': () => release.p }), { name: uniq('w') });
  await waitForEvent(w, 'idle');
  const pub = fx.connection();
  const gid = uniq('gated');
  const started = waitForEvent<[Job]>(w, 'job-started', (j) => j.id === gid);
  const gated = await q.enqueue('t.gated', { jobId: gid });
  await started;
  await sendShutdown(pub, w.name);
  await until(async () => (await pub.hget(keys.worker(w.name), 'shutdown_requested_date')) !== null);
  const last = await q.enqueue('t.ok');
  release.open();
  await w.done;
  assert.equal(await (await Job.fetch(fx.redis, gated.id)).getStatus(), 'finished');
  assert.equal(await (await Job.fetch(fx.redis, last.id)).getStatus(), 'queued');
});

test('an UnrecoverableError fails at once whatever the retries', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.perm', { retry: new Retry({ max: 5 }) });
  const w = fx.worker(
    [name],
    tasks({
      't.perm': () => {
        throw new UnrecoverableError('550 mailbox unavailable');
      },
    }),
    { burst: true },
  );
  await w.done;
  const j = await Job.fetch(fx.redis, job.id);
  assert.equal(j.status, 'failed');
  assert.equal(j.retriesLeft, 5);
  assert.match((await j.latestResult())!.excString!, /UnrecoverableError: 550 mailbox unavailable/);
  assert.equal(w.failedJobs, 1);
});

test('recovery passes forget workers whose key expired (RQ clean_worker_registry)', async () => {
  const name = uniq('q');
  await fx.redis.sadd(`rq:workers:${name}`, 'rq:worker:ghost');
  await fx.redis.sadd(keys.workers, 'rq:worker:ghost');
  const w = fx.worker([name], tasks({}));
  await until(async () => (await fx.redis.sismember(keys.workers, 'rq:worker:ghost')) === 0);
  assert.equal(await fx.redis.sismember(`rq:workers:${name}`, 'rq:worker:ghost'), 0);
  assert.equal(await fx.redis.sismember(`rq:workers:${name}`, keys.worker(w.name)), 1);
  w.stop();
  await w.done;
});

test('complete (ends of one tick in one call) is idempotent: a resend records nothing twice', async () => {
  const { birth, complete, dequeue } = await import('../../src/engine/transitions.js');
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const [a, b] = await q.enqueueMany([{ func: 't.ok' }, { func: 't.boom', retry: new Retry({ max: 1 }) }]);
  const worker = uniq('w');
  await birth(fx.redis, { worker, keyTtl: 480, queues: [name], fields: [] });
  const { taken } = await dequeue(fx.redis, worker, { count: 2, hbTtl: 20, execTtl: 80, queues: [name], execIds: ['e1', 'e2'] });
  assert.deepEqual(taken !== 'suspended' && taken.map((t) => t.id), [a!.id, b!.id]);
  const times = { startedAt: 1, endedAt: 2 };
  const ends = [
    { kind: 'finish', id: a!.id, execId: 'e1', queue: name, returnValue: 'NQ==', resultTtl: 500, hasDependencies: false, repeats: false, ...times },
    { kind: 'fail', id: b!.id, execId: 'e2', queue: name, mode: 'failed', excString: 'eJwrSS0uAQAEXQHB', failureTtl: 31536000, queueRetry: '', ...times },
  ] as const;
  // the worker's totals ride along: a resend writes the same ones
  const none = { count: 0, hbTtl: 20, execTtl: 80, queues: [name], execIds: [], counts: { successful: 1, failed: 1, workingTime: 2 } };
  const first = await complete(fx.redis, worker, ends, none);
  assert.deepEqual(first.outcomes, ['finished', 'retried']);
  const again = await complete(fx.redis, worker, ends, none);
  assert.deepEqual(again.outcomes, ['stale', 'stale']);
  assert.equal(await fx.redis.xlen(keys.results(a!.id)), 1);
  assert.equal(await (await Job.fetch(fx.redis, a!.id)).returnValue(), 5);
  assert.equal((await Job.fetch(fx.redis, b!.id)).retriesLeft, 0);
  assert.deepEqual(await q.jobIds(), [b!.id], 'the retried job is queued once');
  const wh = await fx.redis.hgetall(keys.worker(worker));
  assert.deepEqual([wh.successful_job_count, wh.failed_job_count, wh.total_working_time, wh.state], ['1', '1', '2.000000', 'idle']);
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 0);
});
