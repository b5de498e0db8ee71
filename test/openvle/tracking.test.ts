import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Dependency, Job, Queue, Retry, TaskRegistry, UnrecoverableError, currentJob, keys } from '../../src/index.js';
import { createPool, type Pool } from '../../src/openvle/db/pool.js';
import { migrate } from '../../src/openvle/db/migrate.js';
import { TaskTracker } from '../../src/openvle/tracking/tracker.js';
import { ProgressThrottle } from '../../src/openvle/tracking/progress.js';
import { Reconciler } from '../../src/openvle/tracking/reconciler.js';
import { TaskRetryError } from '../../src/openvle/tracking/retry.js';
import { currentAttempt, progress } from '../../src/openvle/tracking/attempt.js';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { silentLogger } from '../../src/index.js';
import { engineFixture } from '../helpers/engine.js';
import { TcpProxy } from '../helpers/proxy.js';
import { until, waitForEvent } from '../helpers/util.js';
import { testDatabase } from './db.js';

const fx = engineFixture();
let pool: Pool;
let drop: () => Promise<void>;
let dbConfig: Awaited<ReturnType<typeof testDatabase>>['config'];
let tracker: TaskTracker;
const cleanups: Array<() => Promise<void> | void> = [];

before(async () => {
  const db = await testDatabase();
  drop = db.drop;
  dbConfig = db.config;
  pool = createPool(db.config);
  await migrate(pool);
  // The reconciler runs only when a test asks for a pass.
  tracker = new TaskTracker({ pool, redis: fx.redis, reconciler: { interval: 3_600_000 } });
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await tracker.close();
  await pool.end();
  await drop();
});

const WAIT = 30_000;

/** Polls until `check` gives a value (not undefined). */
async function value<T>(check: () => Promise<T | undefined>): Promise<T> {
  let out: T | undefined;
  await until(async () => (out = await check()) !== undefined, WAIT, 20);
  return out as T;
}

/** A registry of tracked handlers. */
function handlers(map: Record<string, [label: string, fn: (...args: any[]) => unknown]>, t: TaskTracker = tracker): TaskRegistry {
  const reg = new TaskRegistry();
  for (const [name, [label, fn]] of Object.entries(map)) t.register(reg, name, { label }, fn);
  return reg;
}

function trackedWorker(queues: string[], reg: TaskRegistry, opts: Parameters<typeof fx.worker>[2] = {}, t: TaskTracker = tracker) {
  const w = fx.worker(queues, reg, opts);
  t.attach(w);
  return w;
}

const store = () => tracker.store;
const taskStatus = async (id: number, status: string) => (await store().getTask(id))?.status === status;

test('success: a Task the backend made is tracked on its row: running, then success with the JSON result', async () => {
  const taskId = await store().createTask({ name: 'Start VM', type: 'openvle.test.start', queue: 'pve_vm_actions' });
  let seenRunning = false;
  const reg = handlers({
    'openvle.test.start': [
      'Start VM',
      async ({ vmid }: { vmid: number }) => {
        const [t, subs] = [await store().getTask(taskId), await store().subTasks(taskId)];
        seenRunning = t?.status === 'running' && subs.length === 1 && subs[0]!.status === 'processing';
        return { vmid, node: 'pve1', status: 'running' };
      },
    ],
  });
  const job = await new Queue('pve_vm_actions', fx.redis).enqueue('openvle.test.start', { kwargs: { vmid: 100 }, meta: { task_id: taskId } });
  const w = trackedWorker(['pve_vm_actions'], reg);
  await until(() => taskStatus(taskId, 'success'), WAIT, 50);
  assert.equal(seenRunning, true, 'the Task was running with a processing SubTask while the handler ran');
  const t = (await store().getTask(taskId))!;
  assert.deepEqual(t.result, { vmid: 100, node: 'pve1', status: 'running' });
  assert.equal(t.progress, 100);
  assert.equal(t.jobId, job.id, 'the worker linked the row to its job');
  const subs = await store().subTasks(taskId);
  assert.deepEqual(subs.map((s) => [s.attempt, s.status, s.action, s.worker]), [[1, 'success', 'Start VM', w.name]]);
  assert.ok(subs[0]!.endedAt);
  w.stop();
  await w.done;
});

test('transient, transient, success: three SubTasks, the Task queued while the retry waits, then success', async () => {
  let n = 0;
  const reg = handlers({
    'openvle.test.flaky': [
      'Flaky',
      () => {
        if (++n < 3) throw new Error(`Proxmox answered 596 (attempt ${n})\n  at somewhere`);
        return { ok: n };
      },
    ],
  });
  const job = await new Queue('pve_vm_clone', fx.redis).enqueue('openvle.test.flaky', { retry: new Retry({ max: 3, interval: [1] }) });
  const w = trackedWorker(['pve_vm_clone'], reg, { withScheduler: true });
  // between attempts: SubTask 1 ended in error, the Task back to queued, the job scheduled
  await until(async () => {
    const id = (await store().findByJobId(job.id))?.id;
    if (id === undefined) return false;
    const [t, subs] = [await store().getTask(id), await store().subTasks(id)];
    return t?.status === 'queued' && subs.length === 1 && subs[0]!.status === 'error' && (await job.getStatus()) === 'scheduled';
  }, WAIT, 20);
  const taskId = (await store().findByJobId(job.id))!.id;
  await until(() => taskStatus(taskId, 'success'), WAIT, 50);
  const subs = await store().subTasks(taskId);
  assert.deepEqual(subs.map((s) => [s.attempt, s.status, s.errorMessage]), [
    [1, 'error', 'Error: Proxmox answered 596 (attempt 1)'],
    [2, 'error', 'Error: Proxmox answered 596 (attempt 2)'],
    [3, 'success', null],
  ]);
  const t = (await store().getTask(taskId))!;
  assert.deepEqual(t.result, { ok: 3 });
  assert.equal(t.error, null, 'success clears the error of earlier attempts');
  w.stop();
  await w.done;
});

test('permanent error: one SubTask, the Task failed with the full error, no retry', async () => {
  const reg = handlers({
    'openvle.test.perm': [
      'Send email',
      () => {
        throw new UnrecoverableError('550 5.1.1 mailbox unavailable');
      },
    ],
  });
  const job = await new Queue('mails', fx.redis).enqueue('openvle.test.perm', { retry: new Retry({ max: 5, interval: [0] }) });
  const w = trackedWorker(['mails'], reg);
  await until(async () => (await store().findByJobId(job.id))?.status === 'failed', WAIT, 50);
  const t = (await store().findByJobId(job.id))!;
  assert.match(t.error!, /^UnrecoverableError: 550 5\.1\.1 mailbox unavailable/);
  assert.ok(t.error!.includes('\n'), "the Task's error keeps the full text");
  const subs = await store().subTasks(t.id);
  assert.deepEqual(subs.map((s) => [s.attempt, s.status, s.errorMessage]), [[1, 'error', 'UnrecoverableError: 550 5.1.1 mailbox unavailable']]);
  const j = await Job.fetch(fx.redis, job.id);
  assert.equal(j.status, 'failed');
  assert.equal(j.retriesLeft, 5, 'no retry was spent');
  w.stop();
  await w.done;
});

test('no task_id in the meta: the worker creates the Task at the first attempt and writes task_id into the meta', async () => {
  const reg = handlers({ 'openvle.test.created': ['Deploy event', ({ event_id }: { event_id: number }) => ({ event_id })] });
  const job = await new Queue('core_periodic', fx.redis).enqueue('openvle.test.created', { kwargs: { event_id: 7 }, meta: { origin: 'python' } });
  const w = trackedWorker(['core_periodic'], reg);
  const t = await value(async () => {
    const found = await store().findByJobId(job.id);
    return found?.status === 'success' ? found : undefined;
  });
  assert.equal(t.name, 'Deploy event');
  assert.equal(t.type, 'openvle.test.created');
  assert.equal(t.queue, 'core_periodic');
  assert.equal(t.eventId, 7);
  const meta = JSON.parse((await fx.redis.hget(keys.job(job.id), 'meta'))!);
  assert.deepEqual(meta, { origin: 'python', task_id: t.id }, 'task_id joins what the producer wrote');
  w.stop();
  await w.done;
});

test('MariaDB unreachable at the start of an attempt: the attempt fails as transient, the handler never runs untracked', async () => {
  const proxy = new TcpProxy(dbConfig.port, dbConfig.host);
  await proxy.start();
  cleanups.push(() => proxy.stop());
  const viaProxy = createPool({ ...dbConfig, host: '127.0.0.1', port: proxy.port }, { connectTimeout: 1000 });
  cleanups.push(() => viaProxy.end().catch(() => {}));
  const t2 = new TaskTracker({ pool: viaProxy, redis: fx.redis, reconciler: { interval: 3_600_000 } });
  cleanups.push(() => t2.close());
  let runs = 0;
  const reg = handlers({ 'openvle.test.db': ['Enroll Moodle user', () => ++runs] }, t2);
  const taskId = await store().createTask({ name: 'Enroll Moodle user', type: 'openvle.test.db', queue: 'moodle' });
  proxy.refuse(true);
  const job = await new Queue('moodle', fx.redis).enqueue('openvle.test.db', { meta: { task_id: taskId }, retry: new Retry({ max: 3, interval: [1] }) });
  const w = trackedWorker(['moodle'], reg, { withScheduler: true }, t2);
  const [, text, outcome] = await waitForEvent<[Job, string, string]>(w, 'job-failed', (j) => j.id === job.id, WAIT);
  assert.match(text, /^TrackingUnavailableError: task tracking unavailable/);
  assert.equal(outcome, 'scheduled');
  assert.equal(runs, 0);
  proxy.refuse(false);
  await until(() => taskStatus(taskId, 'success'), WAIT, 50);
  assert.equal(runs, 1);
  // the failed attempt could write nothing; the one that ran is attempt 1
  assert.deepEqual((await store().subTasks(taskId)).map((s) => [s.attempt, s.status]), [[1, 'success']]);
  w.stop();
  await w.done;
});

test('progress: a burst of reports is one write now and one for the latest value', async () => {
  const writes: number[] = [];
  const p = new ProgressThrottle(async (percent) => void writes.push(percent), 60_000);
  for (let i = 0; i <= 100; i++) p.report(i);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [0]);
  await p.flush();
  assert.deepEqual(writes, [0, 100]);
  p.report(150);
  await p.close();
  assert.deepEqual(writes, [0, 100], 'close drops what is pending');
});

test('progress from a handler reaches the Task (and its message the job meta) while it runs', async () => {
  const reg = handlers({
    'openvle.test.progress': [
      'Clone VM',
      async () => {
        const { job } = currentJob();
        for (let i = 0; i <= 42; i++) progress(i, `copying disk ${i}%`);
        const taskId = (await job.getMeta()).task_id as number;
        await until(async () => (await store().getTask(taskId))?.progress === 42 && (await job.getMeta()).progress !== undefined, WAIT, 20);
        return 'done';
      },
    ],
  });
  const job = await new Queue('pve_vm_clone', fx.redis).enqueue('openvle.test.progress');
  const w = trackedWorker(['pve_vm_clone'], reg);
  const t = await value(async () => {
    const found = await store().findByJobId(job.id);
    return found?.status === 'success' ? found : undefined;
  });
  assert.equal(t.progress, 100);
  assert.deepEqual(JSON.parse((await fx.redis.hget(keys.job(job.id), 'meta'))!).progress, { percent: 42, message: 'copying disk 42%' });
  w.stop();
  await w.done;
});

test('a worker that dies mid-attempt: its SubTask ends "worker died", the Task waits queued, the next attempt succeeds', async () => {
  let n = 0;
  const work = async () => {
    if (++n === 1) {
      // the first attempt hangs until its worker goes away
      const { signal } = currentJob();
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }
    return 'second time';
  };
  const job = await new Queue('guacamole', fx.redis).enqueue('openvle.test.hang', { retry: new Retry({ max: 2, interval: [0] }) });
  const first = trackedWorker(['guacamole'], handlers({ 'openvle.test.hang': ['Provision Guacamole', work] }));
  const taskId = await value(async () => {
    const t = await store().findByJobId(job.id);
    return t && (await store().subTasks(t.id))[0]?.status === 'processing' ? t.id : undefined;
  });
  await until(() => n === 1, WAIT, 10); // inside the handler, not still writing the rows
  // A cold stop hands the running job straight to recovery, as after a crash (job-recovered)
  first.stop({ cold: true });
  await first.done;
  await tracker.settled();
  assert.deepEqual((await store().subTasks(taskId)).map((s) => [s.attempt, s.status, s.errorMessage]), [[1, 'error', 'worker died']]);
  assert.equal((await store().getTask(taskId))!.status, 'queued');
  const second = trackedWorker(['guacamole'], handlers({ 'openvle.test.hang': ['Provision Guacamole', work] }));
  await until(() => taskStatus(taskId, 'success'), WAIT, 50);
  assert.deepEqual((await store().subTasks(taskId)).map((s) => [s.attempt, s.status]), [[1, 'error'], [2, 'success']]);
  second.stop();
  await second.done;
});

test('SIGKILL of a worker process mid-attempt: another worker recovers the job, the SubTask ends "worker died", the next attempt succeeds', async () => {
  const job = await new Queue('pve_vm_clone', fx.redis).enqueue('openvle.test.hang_once', { args: ['hang-once-runs'], retry: new Retry({ max: 2, interval: [0] }) });
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../fixtures/openvle-worker.ts'), fx.url, JSON.stringify(dbConfig), 'pve_vm_clone'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const taskId = await value(async () => {
    const t = await store().findByJobId(job.id);
    return t && (await store().subTasks(t.id))[0]?.status === 'processing' ? t.id : undefined;
  });
  // killed inside the handler, not before it
  await until(async () => (await fx.redis.get('hang-once-runs')) === '1', WAIT, 20);
  const [dead] = await store().subTasks(taskId);
  child.kill('SIGKILL');
  await exited;
  // this worker (tracked) recovers the abandoned job, then runs its retry
  const reg = new TaskRegistry();
  tracker.register(reg, 'openvle.test.hang_once', { label: 'Clone VM' }, async (key: string) => fx.redis.incr(key));
  const w = trackedWorker(['pve_vm_clone'], reg, { jobMonitoringInterval: 1, deadWorkerTimeout: 3, recoveryInterval: 1 });
  try {
    await until(() => taskStatus(taskId, 'success'), 60_000, 100);
    const subs = await store().subTasks(taskId);
    assert.deepEqual(subs.map((s) => [s.attempt, s.status, s.errorMessage, s.worker]), [
      [1, 'error', 'worker died', dead!.worker],
      [2, 'success', null, w.name],
    ]);
    assert.equal((await store().getTask(taskId))!.result, 2);
  } finally {
    w.stop();
    await w.done;
  }
});

test('a job stopped while it runs (stop-job): SubTask error, Task canceled', async () => {
  const reg = handlers({
    'openvle.test.long': [
      'Migrate VM',
      async () => {
        const { signal } = currentJob();
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    ],
  });
  const job = await new Queue('pve_vm_actions', fx.redis).enqueue('openvle.test.long', { retry: new Retry({ max: 3 }) });
  const w = trackedWorker(['pve_vm_actions'], reg);
  const taskId = await value(async () => {
    const t = await store().findByJobId(job.id);
    return t && (await store().subTasks(t.id))[0]?.status === 'processing' ? t.id : undefined;
  });
  await fx.redis.publish(keys.pubsub(w.name), JSON.stringify({ command: 'stop-job', job_id: job.id }));
  await until(() => taskStatus(taskId, 'canceled'), WAIT, 50);
  const subs = await store().subTasks(taskId);
  assert.deepEqual(subs.map((s) => [s.attempt, s.status]), [[1, 'error']]);
  assert.match(subs[0]!.errorMessage!, /stopped/i);
  assert.equal(await job.getStatus(), 'stopped');
  w.stop();
  await w.done;
});

test('reconciler: an attempt nobody reported on ends "worker died"; canceled (by a failed dependency) and vanished jobs end their Task', async () => {
  const q = new Queue('pve_vm_actions', fx.redis);
  // 1. a SubTask left processing by a worker that died; its job is back in its queue (one no worker here serves)
  const lost = await new Queue('pve_periodic', fx.redis).enqueue('openvle.test.none');
  const lostTask = await store().createTask({ name: 'Sync nodes', type: 'openvle.test.none', queue: 'pve_periodic', jobId: lost.id, status: 'running' });
  const sub = await store().startSubTask(lostTask, 'Sync nodes', 'gone-worker');
  // 2. a job canceled because its dependency failed for good
  const parent = await q.enqueue('openvle.test.boom');
  const child = await q.enqueue('openvle.test.none', { dependsOn: new Dependency({ jobs: parent, cancelOnFailure: true }) });
  const childTask = await store().createTask({ name: 'Start VM', type: 'openvle.test.none', queue: 'pve_vm_actions', jobId: child.id });
  // 3. a Task whose job is gone (expired or deleted)
  const goneTask = await store().createTask({ name: 'Reset VM', type: 'openvle.test.none', queue: 'pve_vm_actions', jobId: 'no-such-job' });
  const w = trackedWorker(['pve_vm_actions'], handlers({ 'openvle.test.boom': ['Boom', () => { throw new UnrecoverableError('no such template'); }] }), { burst: true });
  await w.done;
  await tracker.settled();
  assert.equal(await child.getStatus(), 'canceled');
  // age the rows past the reconciler's grace, as time would
  await pool.query('UPDATE sub_tasks SET started_at = started_at - INTERVAL 5 MINUTE WHERE id = ?', [sub.id]);
  await pool.query('UPDATE tasks SET updated_at = updated_at - INTERVAL 5 MINUTE WHERE id IN (?, ?, ?)', [lostTask, childTask, goneTask]);
  const rec = new Reconciler({ store: store(), redis: fx.redis, log: silentLogger, grace: 10, missingGrace: 60 });
  const counts = await rec.runOnce();
  assert.deepEqual(counts, { subTasks: 1, tasks: 3 });
  assert.deepEqual((await store().subTasks(lostTask)).map((s) => [s.status, s.errorMessage]), [['error', 'worker died']]);
  assert.equal((await store().getTask(lostTask))!.status, 'queued');
  const c = (await store().getTask(childTask))!;
  assert.equal(c.status, 'canceled');
  assert.match(c.error ?? '', /dependenc/i);
  const g = (await store().getTask(goneTask))!;
  assert.deepEqual([g.status, g.error], ['canceled', 'the job was deleted or expired']);
  assert.deepEqual(await rec.runOnce(), { subTasks: 0, tasks: 0 }, 'a second pass changes nothing');
});

test('reconciler: Tasks whose jobs ended where no tracking worker saw it follow them (finished, failed)', async () => {
  const q = new Queue('core_periodic', fx.redis);
  const ok = await q.enqueue('plain.ok', { kwargs: { n: 3 } });
  const bad = await q.enqueue('plain.bad');
  const okTask = await store().createTask({ name: 'Mail cleanup', type: 'plain.ok', queue: 'core_periodic', jobId: ok.id });
  const badTask = await store().createTask({ name: 'Event lifecycle', type: 'plain.bad', queue: 'core_periodic', jobId: bad.id });
  // a plain worker: no tracking attached (as a Python rq worker would be)
  const reg = new TaskRegistry()
    .register('plain.ok', ({ n }: { n: number }) => ({ deleted: n }))
    .register('plain.bad', () => {
      throw new Error('MariaDB said no');
    });
  await fx.worker(['core_periodic'], reg, { burst: true }).done;
  await pool.query('UPDATE tasks SET updated_at = updated_at - INTERVAL 5 MINUTE WHERE id IN (?, ?)', [okTask, badTask]);
  const rec = new Reconciler({ store: store(), redis: fx.redis, log: silentLogger, grace: 10 });
  assert.equal((await rec.runOnce()).tasks, 2);
  const [o, b] = [(await store().getTask(okTask))!, (await store().getTask(badTask))!];
  assert.deepEqual([o.status, o.result, o.progress], ['success', { deleted: 3 }, 100]);
  assert.equal(b.status, 'failed');
  assert.match(b.error ?? '', /^Error: MariaDB said no/);
});

test('retryTask requeues a failed Task; the next attempt is a new SubTask', async () => {
  let fail = true;
  const reg = handlers({
    'openvle.test.retry': [
      'Delete VM',
      () => {
        if (fail) throw new UnrecoverableError('VM is locked (backup)');
        return { vmid: 105 };
      },
    ],
  });
  const job = await new Queue('pve_vm_clone', fx.redis).enqueue('openvle.test.retry');
  const w = trackedWorker(['pve_vm_clone'], reg);
  const taskId = await value(async () => {
    const t = await store().findByJobId(job.id);
    return t?.status === 'failed' ? t.id : undefined;
  });
  await assert.rejects(tracker.retryTask(999_999), (e: unknown) => e instanceof TaskRetryError && e.message === 'No task 999999');
  fail = false;
  await tracker.retryTask(taskId);
  await until(() => taskStatus(taskId, 'success'), WAIT, 50);
  assert.deepEqual((await store().subTasks(taskId)).map((s) => [s.attempt, s.status]), [[1, 'error'], [2, 'success']]);
  await assert.rejects(tracker.retryTask(taskId), /Task \d+ is success: only a failed or canceled task can be retried/);
  const listed = await store().listTasks({ queue: 'pve_vm_clone', status: 'success' });
  const row = listed.find((r) => r.id === taskId)!;
  assert.equal(row.attempts, 2);
  assert.equal(row.lastError, 'UnrecoverableError: VM is locked (backup)');
  w.stop();
  await w.done;
});

// A step's dependents (the next step, the event's finishing job) run the
// moment the engine records its end, often on another worker: the attempt's
// SubTask must be ended by then, however slow MariaDB is. The row is held
// locked here while the tracking writes its end.
for (const end of ['returns', 'throws', 'is stopped'] as const) {
  test(`an attempt that ${end} has its SubTask ended before its job reads ended or a dependent starts, with tracking slow`, async (t) => {
    // Its own tracker: the end must wait for the locked row however long this loaded machine takes to see the wait.
    const slow = new TaskTracker({ pool, redis: fx.redis, reconciler: { interval: 3_600_000 }, endWriteWait: 600_000 });
    let letEnd!: () => void;
    const mayEnd = new Promise<void>((r) => (letEnd = r));
    let subTaskId: number | undefined;
    let seenByDependent: string | undefined;
    const reg = handlers({
      'openvle.test.stop_step': [
        'Stop VM',
        async () => {
          subTaskId = currentAttempt()!.subTaskId;
          // 'is stopped' ignores its signal: the worker ends it (stop-job) without waiting.
          await mayEnd;
          if (end === 'throws') throw new UnrecoverableError('VM locked');
          return { status: 'stopped' };
        },
      ],
      'openvle.test.delete_step': [
        'Delete VM',
        async ({ step }: { step: string }) => {
          const task = await store().findByJobId(step);
          seenByDependent = (await store().subTasks(task!.id)).map((s) => s.status).join(',');
        },
      ],
    }, slow);
    const q = new Queue('pve_vm_actions', fx.redis);
    const stop = await q.enqueue('openvle.test.stop_step');
    const del = await q.enqueue('openvle.test.delete_step', { kwargs: { step: stop.id }, dependsOn: new Dependency({ jobs: stop, allowFailure: true }) });
    const w = trackedWorker(['pve_vm_actions'], reg, { concurrency: 2 }, slow);
    let lock: mysql.Connection | undefined;
    // Also when it fails: a case's worker must not take the next case's jobs.
    t.after(async () => {
      letEnd();
      await lock?.end().catch(() => {});
      w.stop();
      await w.done;
      await slow.close();
    });
    await until(async () => subTaskId !== undefined, WAIT, 20);
    const { host, port, user, password, database } = dbConfig;
    const conn = (lock = await mysql.createConnection({ host, port, user, password, database }));
    await conn.query('BEGIN');
    await conn.query('SELECT id FROM sub_tasks WHERE id = ? FOR UPDATE', [subTaskId]);
    let statusWhileHeld: string | undefined;
    try {
      if (end === 'is stopped') await fx.redis.publish(keys.pubsub(w.name), JSON.stringify({ command: 'stop-job', job_id: stop.id }));
      else letEnd();
      // The tracking's write of the attempt's end waits for the lock. Seen in
      // the process list: MariaDB does not always list an autocommit
      // statement waiting for a row lock in INNODB_TRX.
      await until(async () => {
        const [r] = await conn.query<RowDataPacket[]>(
          `SELECT 1 FROM information_schema.PROCESSLIST
            WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE 'UPDATE sub_tasks SET status%' AND INFO LIKE ?`,
          [dbConfig.database, `%WHERE id = ${subTaskId}%`],
        );
        return r.length > 0;
      }, WAIT, 20);
      statusWhileHeld = (await stop.getStatus()) ?? undefined;
      if (statusWhileHeld !== 'started' && end !== 'is stopped') {
        // (the defect) the job already reads ended: its dependent runs and sees the row still processing
        await until(async () => seenByDependent !== undefined, WAIT, 20);
      }
    } finally {
      await conn.query('COMMIT');
    }
    assert.equal(statusWhileHeld, 'started', 'the job stays started until its SubTask is ended');
    if (end === 'is stopped') {
      // a stopped job releases no dependent (as RQ)
      await until(async () => (await stop.getStatus()) === 'stopped', WAIT, 20);
    } else {
      await until(async () => seenByDependent !== undefined, WAIT, 20);
      assert.equal(seenByDependent, end === 'returns' ? 'success' : 'error', 'the dependent saw the attempt ended');
      await until(async () => (await del.getStatus()) === 'finished', WAIT, 20);
    }
    letEnd();
    // The Task follows the job's events, which come after the record Redis already shows.
    const want = { returns: 'success', throws: 'failed', 'is stopped': 'canceled' }[end];
    const task = (await store().findByJobId(stop.id))!;
    await until(() => taskStatus(task.id, want), WAIT, 20);
    const subs = await store().subTasks(task.id);
    assert.deepEqual(subs.map((s) => s.status), [end === 'returns' ? 'success' : 'error']);
    if (end !== 'returns') assert.match(subs[0]!.errorMessage ?? '', end === 'throws' ? /VM locked/ : /stopped/i);
    if (end === 'is stopped') await del.cancel();
  });
}
