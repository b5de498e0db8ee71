// RQ fidelity, round two (issue 15): worker states, log lines, tracebacks,
// Repeat. RQ's behaviour is from docs/design.md and RQ 2.10's worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Job, Repeat, Retry, errorFirst, keys, resume, sendStopJob, suspend, type Logger } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();

/** A logger that keeps its lines, '<LEVEL> message'. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (l: string) => (m: string) => void lines.push(`${l} ${m}`);
  return { lines, debug: at('DEBUG'), info: at('INFO'), warning: at('WARNING'), error: at('ERROR') };
}

test('a fresh worker with nothing to do shows idle, as RQ, not started', async () => {
  const name = uniq('q');
  const w = fx.worker([name], tasks({}), { name: uniq('w') });
  await waitForEvent(w, 'idle');
  assert.equal(await fx.redis.hget(keys.worker(w.name), 'state'), 'idle');
  w.stop();
  await w.done;
});

test('a suspended worker says so once, not on every check, and once that it resumed', async () => {
  const name = uniq('q');
  const log = recorder();
  const pub = fx.connection();
  await suspend(pub);
  try {
    const w = fx.worker([name], tasks({ 't.ok': () => 1 }), { name: uniq('w'), logger: log });
    await until(async () => (await fx.redis.hget(keys.worker(w.name), 'state')) === 'suspended');
    // Nothing shows the worker's looks at the flag (once a second), and the
    // test is about a line that must not come: let three looks pass.
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(log.lines.filter((l) => /suspended/.test(l)).length, 1, log.lines.join('\n'));
    await resume(pub);
    const q = new Queue(name, fx.redis);
    await q.enqueue('t.ok');
    await waitForEvent(w, 'job-finished', undefined, 15_000);
    assert.equal(log.lines.filter((l) => /resumed/.test(l)).length, 1, log.lines.join('\n'));
    w.stop();
    await w.done;
  } finally {
    await resume(pub);
  }
});

test("a failure's exc_info is in Python's order: header, frames, the exception line last", async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.bad');
  function innerFrame(): never {
    throw new TypeError('bad');
  }
  const w = fx.worker([name], tasks({ 't.bad': () => innerFrame() }), { burst: true });
  await w.done;
  const exc = (await (await Job.fetch(fx.redis, job.id)).latestResult())!.excString!;
  const lines = exc.split('\n');
  assert.equal(lines[0], 'Traceback (most recent call last):');
  assert.equal(lines.at(-1), 'TypeError: bad');
  assert.match(lines.at(-2)!, /^ {2}File ".*fidelity\.test\.ts", line \d+, in innerFrame$/);
  assert.ok(lines.slice(1, -1).every((l) => /^ {2}File "/.test(l)), exc);
});

test("RQ's log lines: started, Successfully completed, Result is kept, the failure's traceback, failed jobs counted once", async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueue('t.ok', { resultTtl: 42, description: 'ok job' });
  await q.enqueue('t.bad', { retry: new Retry({ max: 2 }) });
  await q.enqueue('t.bad');
  const log = recorder();
  const w = fx.worker([name], tasks({ 't.ok': () => 1, 't.bad': () => { throw new Error('nope'); } }), { burst: true, logger: log, name: uniq('w') });
  await w.done;
  const text = log.lines.join('\n');
  assert.match(text, new RegExp(`^INFO Worker rq:worker:${w.name}: started with PID \\d+, version `, 'm'));
  // the job's name and id, as the start line shows it (descriptions only when asked: issue 16)
  assert.match(text, new RegExp(`^INFO Successfully completed t\\.ok \\([0-9a-f-]+\\) job in \\d+\\.\\d+s on worker ${w.name}$`, 'm'));
  assert.match(text, /^INFO Result is kept for 42 seconds$/m);
  assert.match(text, /^ERROR \[Job [0-9a-f-]+\]: exception raised while executing \(t\.bad\)\nTraceback \(most recent call last\):\n(.*\n)*Error: nope$/m);
  assert.match(text, /^WARNING Moving job to FailedJobRegistry \(Error: nope\)$/m);
  // 1 attempt of one job + 3 of the other: 2 jobs failed for good
  assert.match(text, new RegExp(`^INFO Worker rq:worker:${w.name}: stopped \\(1 finished, 2 failed\\)$`, 'm'));
  assert.match(text, new RegExp(`^INFO Worker rq:worker:${w.name}: done, quitting$`, 'm'));
});

test("a logger whose enabled('info') is false gets no per-job lines, and still its warnings", async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueue('t.ok');
  await q.enqueue('t.bad');
  const asked: string[] = [];
  const log = Object.assign(recorder(), {
    enabled: (level: string) => {
      asked.push(level);
      return level !== 'info';
    },
  });
  const bad = () => {
    throw new Error('nope');
  };
  const w = fx.worker([name], tasks({ 't.ok': () => 1, 't.bad': bad }), { burst: true, logger: log });
  await w.done;
  assert.ok(asked.includes('info'));
  const text = log.lines.join('\n');
  assert.doesNotMatch(text, /Successfully completed|Job OK|Result is kept|INFO [^ ]+: t\.ok/);
  assert.match(text, /^WARNING Moving job to FailedJobRegistry \(Error: nope\)$/m);
});

test('a stopped job has ended_at, worker_name and last_heartbeat blanked, as RQ', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.wait');
  const w = fx.worker([name], tasks({ 't.wait': () => new Promise(() => {}) }), { name: uniq('w') });
  await waitForEvent(w, 'job-started');
  await sendStopJob(fx.connection(), job.id);
  await waitForEvent(w, 'job-failed');
  const h = await fx.redis.hgetall(keys.job(job.id));
  assert.equal(h.status, 'stopped');
  assert.equal(h.ended_at, '');
  assert.equal(h.worker_name, '');
  assert.equal(h.last_heartbeat, '');
  w.stop({ cold: true });
  await w.done;
});

test('Repeat(times=2): the job runs three times, repeats_left 2 -> 0, a result per run', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.add', { args: [1, 1], repeat: new Repeat({ times: 2 }) });
  assert.equal(await fx.redis.hget(keys.job(job.id), 'repeats_left'), '2');
  assert.equal(await fx.redis.hget(keys.job(job.id), 'repeat_intervals'), '[0]');
  const seen: string[] = [];
  const w = fx.worker([name], tasks({ 't.add': async (a: number, b: number) => {
    seen.push(String(await fx.redis.hget(keys.job(job.id), 'repeats_left')));
    return a + b;
  } }), { burst: true });
  await w.done;
  assert.deepEqual(seen, ['2', '1', '0']);
  const h = await fx.redis.hgetall(keys.job(job.id));
  assert.equal(h.status, 'finished');
  assert.equal(h.repeats_left, '0');
  assert.equal(await fx.redis.xlen(keys.results(job.id)), 3);
  assert.notEqual(await fx.redis.zscore(`rq:finished:${name}`, job.id), null);
});

test('Repeat with intervals: scheduled, the wait indexed from the remaining count as RQ (times=2, [5, 60] waits 60 first)', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.one', { repeat: new Repeat({ times: 2, interval: [5, 60] }) });
  const w = fx.worker([name], tasks({ 't.one': () => 1 }), { burst: true });
  await w.done;
  assert.equal(await fx.redis.hget(keys.job(job.id), 'status'), 'scheduled');
  assert.equal(await fx.redis.hget(keys.job(job.id), 'repeats_left'), '1');
  const ahead = Number(await fx.redis.zscore(`rq:scheduled:${name}`, job.id)) - Date.now() / 1000;
  assert.ok(ahead > 50 && ahead <= 60, `scheduled ${ahead} s ahead`);
  assert.equal(await fx.redis.ttl(keys.job(job.id)), -1);
});

test('Repeat refuses times < 1 and negative intervals', () => {
  assert.throws(() => new Repeat({ times: 0 }), /times/);
  assert.throws(() => new Repeat({ times: 1, interval: [-1] }), /interval/);
});

test('expired registry entries leave: finished and failed by score, canceled and deferred whose hash is gone, rq:ready onto the queue', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const jobs: Job[] = [];
  for (let i = 0; i < 4; i++) jobs.push(await q.enqueue('t.ok', { resultTtl: 1 }));
  const kept = await q.enqueue('t.ok', { resultTtl: -1 });
  const failed = await q.enqueue('t.bad', { failureTtl: 1 });
  const w1 = fx.worker([name], tasks({ 't.ok': () => 1, 't.bad': () => { throw new Error('x'); } }), { burst: true });
  await w1.done;
  assert.equal(await fx.redis.zcard(`rq:finished:${name}`), 5);
  // canceled/deferred entries whose hashes were deleted, and a Python (RQ 3) dependent left in ready
  await fx.redis.zadd(`rq:canceled:${name}`, 1, 'gone-c');
  await fx.redis.zadd(`rq:deferred:${name}`, 1, 'gone-d');
  await fx.redis.hset(keys.job('ready-1'), 'status', 'ready_to_enqueue', 'origin', name);
  await fx.redis.zadd(`rq:ready:${name}`, 1, 'ready-1');
  await until(async () => (await fx.redis.exists(keys.job(jobs[0]!.id))) === 0, 15_000, 100);
  await until(async () => Number(await fx.redis.zscore(`rq:finished:${name}`, jobs[3]!.id)) < Date.now() / 1000, 15_000, 100);
  const w2 = fx.worker([name], tasks({}), { cleanInterval: 0.5 });
  await until(async () => (await fx.redis.zcard(`rq:finished:${name}`)) === 1, 15_000, 50);
  assert.notEqual(await fx.redis.zscore(`rq:finished:${name}`, kept.id), null, 'ttl -1 is kept forever');
  // (ready-1 has no payload: once pushed, it fails into rq:failed itself)
  await until(async () => (await fx.redis.zscore(`rq:failed:${name}`, failed.id)) === null, 15_000, 50);
  assert.equal(await fx.redis.zcard(`rq:canceled:${name}`), 0);
  assert.equal(await fx.redis.zcard(`rq:deferred:${name}`), 0);
  assert.equal(await fx.redis.zcard(`rq:ready:${name}`), 0);
  // pushed onto the queue (the worker may have taken it since)
  assert.ok(await fx.redis.hget(keys.job('ready-1'), 'enqueued_at'));
  w2.stop();
  await w2.done;
});

test('an integer beyond 2^53 sent by Python reaches the task as an exact BigInt and comes back exact', async () => {
  const name = uniq('q');
  const id = uniq('big');
  // what Python RQ's JSONSerializer writes for enqueue('t.inc', 12345678901234567891)
  await fx.redis.hset(keys.job(id), 'data', '["t.inc", null, [12345678901234567891], {}]', 'status', 'queued', 'origin', name,
    'created_at', '2026-01-01T00:00:00.000000Z', 'timeout', '180', 'description', 't.inc(12345678901234567891)');
  await fx.redis.rpush(`rq:queue:${name}`, id);
  let got: unknown;
  const w = fx.worker([name], tasks({ 't.inc': (n: bigint) => ((got = n), n + 1n) }), { burst: true });
  await w.done;
  assert.equal(got, 12345678901234567891n);
  const [[, flat]] = (await fx.redis.xrange(keys.results(id), '-', '+')) as [[string, string[]]];
  const rv = flat[flat.indexOf('return_value') + 1]!;
  assert.equal(Buffer.from(rv, 'base64').toString(), '12345678901234567892');
});

test("the scheduler logs RQ's start and stop lines and the locks it takes", async () => {
  const name = uniq('q');
  const log = recorder();
  const w = fx.worker([name], tasks({}), { withScheduler: true, logger: log });
  await until(() => log.lines.some((l) => l.includes(`acquired locks for ${name}`)), 10_000);
  w.stop();
  await w.done;
  const text = log.lines.join('\n');
  assert.match(text, new RegExp(`^INFO Scheduler for ${name} started with PID ${process.pid}$`, 'm'));
  assert.match(text, new RegExp(`^INFO Scheduler stopping, releasing locks for ${name}\\.\\.\\.$`, 'm'));
});

test('errorFirst turns a Python-order traceback round for readers of its first line', () => {
  assert.equal(errorFirst('Traceback (most recent call last):\n  File "a.py", line 1, in f\n    x()\nValueError: no\nmore'), 'ValueError: no\nmore\nTraceback (most recent call last):\n  File "a.py", line 1, in f\n    x()');
  assert.equal(errorFirst('Error: plain'), 'Error: plain');
});
