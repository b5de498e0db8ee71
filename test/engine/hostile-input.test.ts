// Issue 16: hostile and malformed job data must never leave a job stuck,
// run a job twice, stall a worker or put a secret in a log line.
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import { Dependency, Job, keys, MalformedJobError, Queue, Worker, type Logger } from '../../src/index.js';
import { decodeCall, decodeExcString, encodeCall } from '../../src/engine/serializer.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until } from '../helpers/util.js';

const fx = engineFixture();

async function handWritten(q: string, fields: Record<string, string | Buffer>): Promise<string> {
  const id = uniq('hw');
  await fx.redis.hset(keys.job(id), { origin: q, status: 'queued', timeout: '30', description: 'hand-written', ...fields });
  await fx.redis.sadd(keys.queues, keys.queue(q));
  await fx.redis.rpush(keys.queue(q), id);
  return id;
}

async function endState(q: string, id: string) {
  const status = await fx.redis.hget(keys.job(id), 'status');
  const inFinished = (await fx.redis.zscore(`rq:finished:${q}`, id)) !== null;
  const inFailed = (await fx.redis.zscore(`rq:failed:${q}`, id)) !== null;
  return { status, inFinished, inFailed };
}

test('TTLs Redis refuses, from the job hash, end the job in its registry (single ends)', async () => {
  const q = uniq('q');
  const runs = new Map<string, number>();
  const count = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1);
  const huge = await handWritten(q, { data: encodeCall('t.ok', ['huge'], {}), result_ttl: '99999999999999999' });
  const frac = await handWritten(q, { data: encodeCall('t.ok', ['frac'], {}), result_ttl: '3600.5' });
  const failFrac = await handWritten(q, { data: encodeCall('t.bad', ['ff'], {}), failure_ttl: '3600.5' });
  const failHuge = await handWritten(q, { data: encodeCall('t.bad', ['fh'], {}), failure_ttl: '1e300' });
  const reg = tasks({ 't.ok': (k: string) => (count(k), k), 't.bad': (k: string) => (count(k), Promise.reject(new Error('nope'))) });
  const w = fx.worker([q], reg, { burst: true, name: uniq('w') });
  await w.done;
  for (const id of [huge, frac]) assert.deepEqual(await endState(q, id), { status: 'finished', inFinished: true, inFailed: false }, id);
  for (const id of [failFrac, failHuge]) assert.deepEqual(await endState(q, id), { status: 'failed', inFinished: false, inFailed: true }, id);
  assert.equal(await fx.redis.zcard(`rq:wip:${q}`), 0, 'nothing left in wip');
  const ttl = await fx.redis.ttl(keys.job(huge));
  assert.ok(ttl > 0, `a huge result_ttl is capped, not refused (ttl ${ttl})`);
  assert.deepEqual([...runs.values()], [1, 1, 1, 1]);
});

test('a bad TTL in a batch of ends affects only its own job, and no job runs twice (-c 8)', async () => {
  const q = uniq('q');
  const runs = new Map<number, number>();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    ids.push(await handWritten(q, { data: encodeCall('t.gated', [i], {}), ...(i === 3 ? { result_ttl: '99999999999999999' } : {}) }));
  }
  const reg = tasks({
    't.gated': async (i: number) => {
      runs.set(i, (runs.get(i) ?? 0) + 1);
      await gate;
      return i;
    },
  });
  const w = fx.worker([q], reg, { concurrency: 8, name: uniq('w'), jobMonitoringInterval: 0.3, deadWorkerTimeout: 2, recoveryInterval: 0.2 });
  await until(() => runs.size === 8, 30_000);
  open(); // all eight end in the same tick: one complete.lua call
  await until(async () => (await Promise.all(ids.map((id) => endState(q, id)))).every((s) => s.status === 'finished' && s.inFinished), 30_000);
  // Two more heartbeats: the first one after the ends would hand back what a failed batch left in wip.
  for (let i = 0; i < 2; i++) {
    const hb = await fx.redis.hget(keys.worker(w.name), 'last_heartbeat');
    await until(async () => (await fx.redis.hget(keys.worker(w.name), 'last_heartbeat')) !== hb, 30_000);
  }
  await until(() => [...runs.values()].every((n) => n >= 1), 10_000);
  assert.equal(await fx.redis.zcard(`rq:wip:${q}`), 0);
  assert.deepEqual([...runs.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n), [1, 1, 1, 1, 1, 1, 1, 1]);
  w.stop();
  await w.done;
});

test('the API refuses TTLs and timeouts that are not safe integers within bounds; enqueueMany queues nothing then', async () => {
  const q = new Queue(uniq('q'), fx.redis);
  for (const opts of [
    { resultTtl: 99999999999999999 },
    { failureTtl: 3600.5 },
    { ttl: 2 ** 60 },
    { jobTimeout: 1e12 },
    { jobTimeout: '99999999999999999d' },
    { resultTtl: Number.NaN },
  ]) {
    await assert.rejects(q.enqueue('t.ok', opts), TypeError, JSON.stringify(opts));
  }
  await assert.rejects(q.enqueueMany([{ func: 't.ok' }, { func: 't.ok' }, { func: 't.ok', resultTtl: 1e20 }]), TypeError);
  assert.equal(await q.count(), 0, 'a bad spec anywhere in the batch queues nothing');
});

test('dependency ids are validated as job ids; a dependents entry of the wrong type counts as missing', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  for (const bad of ['P:dependents', 'a b', '', 'x\ny']) {
    await assert.rejects(q.enqueue('t.ok', { dependsOn: bad }), /Invalid dependency id|Invalid job id/, JSON.stringify(bad));
  }
  const parent = await q.enqueue('t.ok', { args: ['p'] });
  const child = await q.enqueue('t.ok', { args: ['c'], dependsOn: parent.id });
  // A key of the wrong type among P's dependents (written by another program).
  const wrong = uniq('wrong');
  await fx.redis.set(keys.job(wrong), 'not a hash');
  await fx.redis.sadd(`rq:job:${parent.id}:dependents`, wrong);
  const w = fx.worker([name], tasks({ 't.ok': (k: string) => k }), { burst: true, name: uniq('w') });
  await w.done;
  assert.deepEqual(await endState(name, parent.id), { status: 'finished', inFinished: true, inFailed: false });
  assert.deepEqual(await endState(name, child.id), { status: 'finished', inFinished: true, inFailed: false });
  assert.equal(await fx.redis.type(keys.job(wrong)), 'string', 'left alone');
});

test('decoding is bounded: too big compressed, too big inflated, too many containers', () => {
  const many = deflateSync('["t.ok", null, [' + '[],'.repeat(2_000_000) + '[]], {}]');
  assert.throws(() => decodeCall(many), (e: Error) => e instanceof MalformedJobError && /containers/.test(e.message));
  const big = Buffer.alloc(40 << 20, 0x61);
  assert.throws(() => decodeCall(big), (e: Error) => e instanceof MalformedJobError && /bytes/.test(e.message));
  const inflates = deflateSync(Buffer.concat([Buffer.from('["t.ok", null, ["'), Buffer.alloc(40 << 20, 0x61), Buffer.from('"], {}]')]));
  assert.throws(() => decodeCall(inflates), (e: Error) => e instanceof MalformedJobError && /inflates to more than/.test(e.message));
  // ordinary big payloads still decode
  assert.equal(decodeCall(encodeCall('t.ok', [Array.from({ length: 100_000 }, (_, i) => i)], {})).args.length, 1);
});

test('__proto__ keys in kwargs reach no task as own properties', async () => {
  const name = uniq('q');
  const id = await handWritten(name, { data: deflateSync('["t.kw", null, [], {"__proto__": {"polluted": 1}, "a": 1}]') });
  let seen: string[] = [];
  let polluted: unknown;
  const w = fx.worker([name], tasks({ 't.kw': (kw: Record<string, unknown>) => ((seen = Object.keys(kw)), (polluted = Object.assign({}, kw).polluted), 1) }), { burst: true, name: uniq('w') });
  await w.done;
  assert.equal((await endState(name, id)).status, 'finished');
  assert.deepEqual(seen, ['a']);
  assert.equal(polluted, undefined);
});

test('secrets stay out of descriptions and log lines; descriptions are escaped and truncated', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const j = await q.enqueue('t.ok', { args: ['x'.repeat(5000)], kwargs: { password: 'S3cret-pw', api_token: 'T0ken', vmid: 101 } });
  const stored = (await fx.redis.hget(keys.job(j.id), 'description'))!;
  assert.doesNotMatch(stored, /S3cret-pw|T0ken/);
  assert.match(stored, /vmid=101/);
  assert.ok(stored.length <= 1024, `description of ${stored.length} chars`);
  const forged = await q.enqueue('t.ok', { args: ['y'], description: 'ok\nINFO forged line password=hunter2' });
  const fd = (await fx.redis.hget(keys.job(forged.id), 'description'))!;
  assert.doesNotMatch(fd, /\n|hunter2/);
  const lines: string[] = [];
  const logger: Logger = { debug: () => {}, info: (m: string) => lines.push(m), warning: (m: string) => lines.push(m), error: (m: string) => lines.push(m) } as unknown as Logger;
  const w = fx.worker([name], tasks({ 't.ok': () => 1 }), { burst: true, name: uniq('w'), logger });
  await w.done;
  const log = lines.join('\n');
  assert.match(log, new RegExp(`t\\.ok \\(${j.id}\\)`));
  assert.doesNotMatch(log, /S3cret-pw|T0ken|hunter2|forged/);
  assert.equal((await Job.fetch(fx.redis, j.id)).status, 'finished');
});

test('a Worker built from the API validates its queue names', () => {
  assert.throws(() => new Worker(['ok', 'bad queue!'], { connection: fx.redis, tasks: tasks({}) }), /Invalid queue name 'bad queue!'/);
});

test('an error inside the script that records an end fails that job with the reason, and only that job', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const runs = new Map<string, number>();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const jobs = [];
  for (let i = 0; i < 3; i++) jobs.push(await q.enqueue('t.gated', { args: [String(i)] }));
  const reg = tasks({
    't.gated': async (k: string) => {
      runs.set(k, (runs.get(k) ?? 0) + 1);
      await gate;
      return k;
    },
  });
  const w = fx.worker([name], reg, { concurrency: 3, name: uniq('w'), jobMonitoringInterval: 0.3, deadWorkerTimeout: 2, recoveryInterval: 0.2 });
  await until(() => runs.size === 3, 30_000);
  // Another program left a key of the wrong type where job 1's results go.
  await fx.redis.set(keys.results(jobs[1]!.id), 'not a stream');
  open();
  await until(async () => (await fx.redis.zcard(`rq:finished:${name}`)) + (await fx.redis.zcard(`rq:failed:${name}`)) === 3, 30_000);
  assert.deepEqual(await endState(name, jobs[0]!.id), { status: 'finished', inFinished: true, inFailed: false });
  assert.deepEqual(await endState(name, jobs[1]!.id), { status: 'failed', inFinished: false, inFailed: true });
  assert.deepEqual(await endState(name, jobs[2]!.id), { status: 'finished', inFinished: true, inFailed: false });
  for (let i = 0; i < 2; i++) {
    const hb = await fx.redis.hget(keys.worker(w.name), 'last_heartbeat');
    await until(async () => (await fx.redis.hget(keys.worker(w.name), 'last_heartbeat')) !== hb, 30_000);
  }
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 0);
  assert.deepEqual([...runs.values()], [1, 1, 1]);
  w.stop();
  await w.done;

  // With a registry of the wrong type, the reason is stored on the job.
  const name2 = uniq('q');
  const j = await new Queue(name2, fx.redis).enqueue('t.ok');
  await fx.redis.set(`rq:finished:${name2}`, 'not a zset');
  const w2 = fx.worker([name2], tasks({ 't.ok': () => 1 }), { burst: true, name: uniq('w') });
  const failedEvents: string[] = [];
  w2.on('job-failed', (job) => failedEvents.push(job.id));
  await w2.done;
  assert.deepEqual(failedEvents, [j.id]);
  assert.equal(await fx.redis.hget(keys.worker(w2.name), 'failed_job_count'), '1');
  assert.ok(['0', null].includes(await fx.redis.hget(keys.worker(w2.name), 'successful_job_count')));
  assert.equal(await fx.redis.hget(keys.job(j.id), 'status'), 'failed');
  assert.notEqual(await fx.redis.zscore(`rq:failed:${name2}`, j.id), null);
  const exc = (await (await Job.fetch(fx.redis, j.id)).latestResult())?.excString ?? '';
  assert.match(exc, /ScriptError: the end of this execution could not be recorded: .*WRONGTYPE/);
});

test('cascaded cancels expire (RQ has no cascade) and rq:canceled:<q> sheds ids whose job is gone', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const dangling = Array.from({ length: 5 }, () => uniq('gone'));
  for (const id of dangling) await fx.redis.zadd(`rq:canceled:${name}`, 1, id);
  const parent = await q.enqueue('t.bad');
  const child = await q.enqueue('t.ok', { dependsOn: new Dependency({ jobs: parent.id, cancelOnFailure: true }), ttl: 600 });
  const w = fx.worker([name], tasks({ 't.bad': () => Promise.reject(new Error('nope')), 't.ok': () => 1 }), { burst: true, name: uniq('w') });
  await w.done;
  assert.equal(await fx.redis.hget(keys.job(child.id), 'status'), 'canceled');
  const ttl = await fx.redis.ttl(keys.job(child.id));
  assert.ok(ttl > 0, `a cascaded cancel keeps the job for a bounded time (ttl ${ttl})`);
  assert.deepEqual(await fx.redis.zrange(`rq:canceled:${name}`, '0', '-1'), [child.id]);
  // an explicit cancel stays RQ's: no TTL
  const j = await q.enqueue('t.ok', { ttl: 600 });
  await j.cancel();
  assert.equal(await fx.redis.ttl(keys.job(j.id)), -1);
});

test('Worker options and stored tracebacks are bounded too', () => {
  assert.throws(() => new Worker(['q'], { connection: fx.redis, tasks: tasks({}), resultTtl: 1e17 }), /resultTtl/);
  assert.throws(() => new Worker(['q'], { connection: fx.redis, tasks: tasks({}), failureTtl: 3600.5 }), /failureTtl/);
  const bomb = deflateSync(Buffer.alloc(64 << 20)).toString('base64');
  assert.match(decodeExcString(bomb) ?? '', /inflates to more than \d+ bytes/);
});

// Before the fix the redaction was quadratic: this blocked the event loop for many minutes.
test('redacting a huge description is bounded work', async () => {
  const q = new Queue(uniq('q'), fx.redis);
  const j = await q.enqueue('t.ok', { description: 'a'.repeat(2_000_000) + ' password=hunter2', kwargs: { token: 'k'.repeat(1_000_000) } });
  const stored = (await fx.redis.hget(keys.job(j.id), 'description'))!;
  assert.ok(stored.length <= 515, `${stored.length} characters`);
  assert.doesNotMatch(stored, /hunter2/);
});
