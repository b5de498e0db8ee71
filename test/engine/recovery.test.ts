import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Queue, Job, Retry, keys } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();
const FIXTURE = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));

/** Starts a worker process; resolves once it printed `started`. */
async function workerProcess(queues: string[], opts: object = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, fx.url, queues.join(','), JSON.stringify(opts)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const events = new (await import('node:events')).EventEmitter();
  lines.on('line', (l) => {
    const [what, arg] = l.split(' ');
    events.emit(what!, arg);
  });
  const [name] = await waitForEvent<[string]>(events, 'started', undefined, 15_000);
  return { child, events, name };
}

function kill(child: ChildProcess): Promise<unknown> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  return exited;
}

test('SIGKILL mid-job: another worker retries the job within the configured bound', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const { child, events } = await workerProcess([name], { jobMonitoringInterval: 0.5, deadWorkerTimeout: 2 });
  const started = waitForEvent<[string]>(events, 'job-started');
  const job = await q.enqueue('fixtures.count', { args: [uniq('c'), 60_000], retry: new Retry({ max: 1 }) });
  await started;
  await kill(child);
  const killedAt = Date.now();
  const w = fx.worker([name], tasks({ 'fixtures.count': () => 'second run' }), { jobMonitoringInterval: 0.5, deadWorkerTimeout: 2, recoveryInterval: 0.25 });
  const [recoveredId, outcome] = await waitForEvent<[string, string]>(w, 'job-recovered', undefined, 15_000);
  const recoveredAfter = Date.now() - killedAt;
  assert.equal(recoveredId, job.id);
  assert.equal(outcome, 'retried');
  // bound = deadWorkerTimeout + recoveryInterval (+ slack for a loaded CI machine)
  assert.ok(recoveredAfter <= 2000 + 250 + 1500, `recovered after ${recoveredAfter} ms`);
  const [fin] = await waitForEvent<[Job]>(w, 'job-finished');
  assert.equal(fin.id, job.id);
  assert.equal(await (await Job.fetch(fx.redis, job.id)).returnValue(), 'second run');
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 0);
  w.stop();
  await w.done;
});

test('SIGKILL with no retries left: the job fails with AbandonedJobError, as RQ records it', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const { child, events, name: dead } = await workerProcess([name], { jobMonitoringInterval: 0.5, deadWorkerTimeout: 2 });
  const started = waitForEvent<[string]>(events, 'job-started');
  const job = await q.enqueue('fixtures.sleep', { args: [60_000] });
  await started;
  await kill(child);
  const w = fx.worker([name], tasks({}), { jobMonitoringInterval: 0.5, deadWorkerTimeout: 2, recoveryInterval: 0.25 });
  const [, outcome] = await waitForEvent<[string, string]>(w, 'job-recovered', undefined, 15_000);
  assert.equal(outcome, 'failed');
  const j = await Job.fetch(fx.redis, job.id);
  assert.equal(j.status, 'failed');
  const r = await j.latestResult();
  assert.match(r!.excString!, /Moved to FailedJobRegistry, due to AbandonedJobError/);
  assert.equal(r!.workerName, '');
  // RQ shows no dead workers: the killed one's registration is gone, not
  // left 'idle' until its key expires (issue 15).
  assert.equal(await fx.redis.exists(keys.worker(dead)), 0);
  assert.equal(await fx.redis.sismember(keys.workers, keys.worker(dead)), 0);
  assert.equal(await fx.redis.sismember(`rq:workers:${name}`, keys.worker(dead)), 0);
  w.stop();
  await w.done;
});

test('a slow job on a live worker is never taken from it', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const { child, events } = await workerProcess([name], { jobMonitoringInterval: 0.3, deadWorkerTimeout: 1 });
  const counter = uniq('c');
  const job = await q.enqueue('fixtures.count', { args: [counter, 4000] });
  await waitForEvent(events, 'job-started');
  // a second worker scanning for abandoned jobs all along, for 4 x deadWorkerTimeout
  const w = fx.worker([name], tasks({}), { jobMonitoringInterval: 0.3, deadWorkerTimeout: 1, recoveryInterval: 0.1 });
  let recovered = 0;
  w.on('job-recovered', () => recovered++);
  const j = await until(async () => {
    const s = await (await Job.fetch(fx.redis, job.id)).getStatus();
    return s === 'finished' || s === 'failed' ? s : null;
  }, 20_000);
  assert.equal(j, 'finished');
  assert.equal(recovered, 0);
  assert.equal(await fx.redis.get(counter), '1');
  w.stop();
  await w.done;
  child.kill('SIGTERM');
  await once(child, 'exit');
});

test('cold shutdown (two SIGTERMs) hands running jobs to recovery at once', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const { child, events } = await workerProcess([name]);
  const started = waitForEvent(events, 'job-started');
  const job = await q.enqueue('fixtures.sleep', { args: [60_000], retry: new Retry({ max: 1 }) });
  await started;
  const exited = once(child, 'exit');
  // The second SIGTERM only after the first arrived: two sent back to back can merge into one.
  const first = waitForEvent(events, 'signal');
  child.kill('SIGTERM');
  await first;
  child.kill('SIGTERM');
  await exited;
  // the dying worker ran recovery itself: the job is back in its queue
  assert.equal(await (await Job.fetch(fx.redis, job.id)).getStatus(), 'queued');
  assert.deepEqual(await q.jobIds(), [job.id]);
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 0);
});

test('the dequeue script never hands one job to two workers', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const N = 3000;
  await q.enqueueMany(Array.from({ length: N }, (_, i) => ({ func: 't.rec', args: [i] })));
  const seen = new Map<string, number>();
  const t = tasks({ 't.rec': () => undefined });
  const workers = Array.from({ length: 6 }, () => fx.worker([name, uniq('other')], t, { burst: true, concurrency: 8 }));
  for (const w of workers) w.on('job-started', (j: Job) => seen.set(j.id, (seen.get(j.id) ?? 0) + 1));
  await Promise.all(workers.map((w) => w.done));
  assert.equal(seen.size, N);
  assert.deepEqual([...seen.values()].filter((v) => v !== 1), []);
  assert.equal(await q.finishedJobRegistry.count(), N);
});

test("a job that ends after its worker's hash is gone does not recreate a partial, never-expiring worker hash", async () => {
  const name = uniq('q');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // No heartbeat during the test: it would recreate the hash, with a TTL, on purpose.
  const w = fx.worker([name], tasks({ 't.gated': () => gate, 't.fail': () => gate.then(() => { throw new Error('no'); }) }), {
    name: uniq('w'),
    concurrency: 2,
    jobMonitoringInterval: 60,
    deadWorkerTimeout: 180,
  });
  await waitForEvent(w, 'idle');
  const q = new Queue(name, fx.redis);
  const started = waitForEvent(w, 'job-started');
  const startedBoth = until(() => w.runningJobIds().length === 2);
  await q.enqueue('t.gated');
  await q.enqueue('t.fail');
  await started;
  await startedBoth;
  await fx.redis.del(keys.worker(w.name));
  const ended = Promise.all([waitForEvent(w, 'job-finished'), waitForEvent(w, 'job-failed')]);
  release();
  await ended;
  assert.deepEqual(await fx.redis.hgetall(keys.worker(w.name)), {});
  w.stop({ cold: true });
  await w.done;
});

test("a dequeue after its worker's hash is gone does not recreate a partial, never-expiring worker hash", async () => {
  const name = uniq('q');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // No heartbeat during the test: it would recreate the hash, with a TTL, on purpose.
  const w = fx.worker([name], tasks({ 't.gated': () => gate }), {
    name: uniq('w'),
    jobMonitoringInterval: 60,
    deadWorkerTimeout: 180,
  });
  await waitForEvent(w, 'idle');
  await fx.redis.del(keys.worker(w.name));
  const started = waitForEvent(w, 'job-started');
  await new Queue(name, fx.redis).enqueue('t.gated');
  await started;
  assert.deepEqual(await fx.redis.hgetall(keys.worker(w.name)), {});
  release();
  w.stop({ cold: true });
  await w.done;
});
