import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { TaskRegistry } from '../../src/index.js';
import { createPool, type Pool } from '../../src/openvle/db/pool.js';
import { migrate } from '../../src/openvle/db/migrate.js';
import { retryDelays, retryPolicy } from '../../src/openvle/queues.js';
import { TaskTracker } from '../../src/openvle/tracking/tracker.js';
import { engineFixture } from '../helpers/engine.js';
import { until } from '../helpers/util.js';
import { PYTHON, py1, pyEnv } from '../interop/helpers.js';
import { testDatabase } from './db.js';

// Jobs the FastAPI backend enqueues with Python RQ (JSON serializer, keyword
// arguments), with or without the Task row it made, are tracked like ours.
const fx = engineFixture();
// Reported as skipped (never as passed) where Debian's python3-rq is missing.
const noPythonRq = spawnSync(PYTHON, ['-c', 'import rq, redis'], { env: pyEnv() }).status !== 0 ? 'Python RQ is not installed (/usr/bin/python3 -c "import rq")' : false;
let pool: Pool;
let drop: () => Promise<void>;
let tracker: TaskTracker;

before(async () => {
  const db = await testDatabase();
  drop = db.drop;
  pool = createPool(db.config);
  await migrate(pool);
  tracker = new TaskTracker({ pool, redis: fx.redis, reconciler: { interval: 3_600_000 } });
});

after(async () => {
  await tracker.close();
  await pool.end();
  await drop();
});

test('a Python producer enqueues on pve_vm_actions with a Task row; two transient failures, then success', { skip: noPythonRq }, async () => {
  const taskId = await tracker.store.createTask({ name: 'Start VM', type: 'openvle.test.start_vm', queue: 'pve_vm_actions', createdBy: 3 });
  let n = 0;
  const reg = new TaskRegistry();
  tracker.register(reg, 'openvle.test.start_vm', { label: 'Start VM' }, ({ vmid }: { vmid: number }) => {
    if (++n < 3) throw new Error(`VM ${vmid} is locked (attempt ${n})`);
    return { vmid, node: 'pve1', status: 'running' };
  });
  // The seed's policy for the queue is 5 retries over 5/10/15 s; 1 s here keeps the test short, same indexing.
  const job = await py1<{ id: string }>(fx.url, {
    op: 'enqueue',
    queue: 'pve_vm_actions',
    func: 'openvle.test.start_vm',
    kwargs: { vmid: 100 },
    meta: { task_id: taskId },
    retry: { max: 3, interval: [1] },
  });
  const w = fx.worker(['pve_vm_actions'], reg, { withScheduler: true });
  tracker.attach(w);
  await until(async () => (await tracker.store.getTask(taskId))?.status === 'success', 30_000, 50);
  const t = (await tracker.store.getTask(taskId))!;
  assert.equal(t.jobId, job.id);
  assert.equal(t.createdBy, 3);
  assert.deepEqual(t.result, { vmid: 100, node: 'pve1', status: 'running' });
  const subs = await tracker.store.subTasks(taskId);
  assert.deepEqual(subs.map((s) => [s.attempt, s.status, s.errorMessage]), [
    [1, 'error', 'Error: VM 100 is locked (attempt 1)'],
    [2, 'error', 'Error: VM 100 is locked (attempt 2)'],
    [3, 'success', null],
  ]);
  // each retry waited at least its interval
  assert.ok(subs[1]!.startedAt.getTime() - subs[0]!.endedAt!.getTime() >= 900);
  assert.ok(subs[2]!.startedAt.getTime() - subs[1]!.endedAt!.getTime() >= 900);
  // Python sees the job finished with its return value, and the Task id in its meta
  const view = await py1<{ status: string; meta: Record<string, unknown>; return_value: unknown }>(fx.url, { op: 'fetch', id: job.id });
  assert.equal(view.status, 'finished');
  assert.equal(view.meta.task_id, taskId);
  assert.deepEqual(view.return_value, { vmid: 100, node: 'pve1', status: 'running' });
  // what the seed's policy would have waited (RQ's indexing), for the record
  assert.deepEqual(retryDelays(retryPolicy('pve_vm_actions', { worker: { maxRetry: 5 } })), [5, 5, 5, 10, 15]);
  w.stop();
  await w.done;
});

test('a Python job without task_id: the worker creates the Task and Python reads task_id from the meta', { skip: noPythonRq }, async () => {
  const reg = new TaskRegistry();
  tracker.register(reg, 'openvle.test.send', { label: 'Send email' }, ({ to }: { to: string }) => ({ mail_id: 1, to }));
  const job = await py1<{ id: string }>(fx.url, { op: 'enqueue', queue: 'mails', func: 'openvle.test.send', kwargs: { to: 'a@example.org' } });
  const w = fx.worker(['mails'], reg);
  tracker.attach(w);
  await until(async () => (await tracker.store.findByJobId(job.id))?.status === 'success', 30_000, 50);
  const t = (await tracker.store.findByJobId(job.id))!;
  assert.deepEqual([t.name, t.type, t.queue], ['Send email', 'openvle.test.send', 'mails']);
  const view = await py1<{ meta: Record<string, unknown> }>(fx.url, { op: 'fetch', id: job.id });
  assert.equal(view.meta.task_id, t.id);
  w.stop();
  await w.done;
});
