import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '../../src/openvle/db/pool.js';
import { migrate } from '../../src/openvle/db/migrate.js';
import { TaskStore, firstLine } from '../../src/openvle/tracking/store.js';
import { testDatabase } from './db.js';

let pool: Pool;
let drop: () => Promise<void>;
let store: TaskStore;

before(async () => {
  const db = await testDatabase();
  drop = db.drop;
  pool = createPool(db.config);
  await migrate(pool);
  store = new TaskStore(pool);
});
after(async () => {
  await pool.end();
  await drop();
});

test('createTask is idempotent on job_id, and cuts over-long names to their columns', async () => {
  const a = await store.createTask({ name: 'Clone VM', type: 'openvle.pve.clone_vm', queue: 'pve_vm_clone', jobId: 'job-a' });
  const again = await store.createTask({ name: 'Clone VM', type: 'openvle.pve.clone_vm', queue: 'pve_vm_clone', jobId: 'job-a' });
  assert.equal(again, a);
  const long = await store.createTask({ name: 'n'.repeat(300), type: 't'.repeat(300), queue: 'q'.repeat(80) });
  const t = (await store.getTask(long))!;
  assert.deepEqual([t.name.length, t.type.length, t.queue.length], [255, 255, 64]);
  const s = await store.startSubTask(long, 'a'.repeat(300), 'w'.repeat(300));
  assert.deepEqual([s.attempt, s.action.length, s.worker.length], [1, 255, 255]);
});

test('errors are stored with secrets redacted: full text on the Task, first line on the SubTask', async () => {
  const id = await store.createTask({ name: 'Send email', type: 'openvle.mail.send', queue: 'mails' });
  const s = await store.startSubTask(id, 'Send email', 'w1');
  const text = 'Error: login failed password=hunter2-secret for smtp\n    at connect (smtp.ts:1)\nAuthorization: Bearer abc.def.ghi';
  await store.endSubTask(s.id, 'error', text);
  await store.setFailed(id, text);
  const [sub] = await store.subTasks(id);
  assert.equal(sub!.errorMessage, 'Error: login failed password=*** for smtp');
  const t = (await store.getTask(id))!;
  assert.ok(t.error!.includes('at connect (smtp.ts:1)'));
  assert.doesNotMatch(t.error!, /hunter2-secret|abc\.def\.ghi/);
  assert.equal(firstLine('\n\n  second line first\nthird'), 'second line first');
});

test('a late write about an older attempt never overrides a newer one (onlyIfLatest), nor a final status (onlyFrom)', async () => {
  const id = await store.createTask({ name: 'Start VM', type: 'openvle.pve.start_vm', queue: 'pve_vm_actions', status: 'running' });
  await store.startSubTask(id, 'Start VM', 'w1');
  await store.startSubTask(id, 'Start VM', 'w2');
  assert.equal(await store.setQueued(id, { onlyIfLatest: 1 }), false);
  assert.equal((await store.getTask(id))!.status, 'running');
  assert.equal(await store.setSuccess(id, { ok: true }, { onlyIfLatest: 2 }), true);
  assert.equal(await store.setCanceled(id, 'late', { onlyFrom: ['queued', 'running'] }), false);
  assert.equal((await store.getTask(id))!.status, 'success');
});

test('listTasks filters by status and queue, newest first, with attempts and the last error', async () => {
  const a = await store.createTask({ name: 'A', type: 'x.a', queue: 'moodle' });
  const b = await store.createTask({ name: 'B', type: 'x.b', queue: 'moodle' });
  const c = await store.createTask({ name: 'C', type: 'x.c', queue: 'guacamole' });
  for (const [id, n] of [[a, 2], [b, 1], [c, 1]] as const) {
    for (let i = 1; i <= n; i++) {
      const s = await store.startSubTask(id, 'step', 'w');
      await store.endSubTask(s.id, 'error', `boom ${id}.${i}`);
    }
    await store.setFailed(id, 'boom');
  }
  const rows = await store.listTasks({ queue: 'moodle', status: 'failed' });
  assert.deepEqual(rows.map((r) => [r.id, r.attempts, r.lastError]), [[b, 1, `boom ${b}.1`], [a, 2, `boom ${a}.2`]]);
  assert.deepEqual((await store.listTasks({ queue: 'guacamole' })).map((r) => r.id), [c]);
  assert.equal((await store.listTasks({ status: 'canceled' })).length, 0);
});
