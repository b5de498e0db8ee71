import assert from 'node:assert/strict';
import { test } from 'node:test';
import { age, formatTaskTable, tasksAsJson } from '../../src/openvle/tracking/format.js';
import type { TaskSummary } from '../../src/openvle/tracking/store.js';

const now = new Date('2026-11-30T12:00:00Z');
const row = (over: Partial<TaskSummary>): TaskSummary => ({
  id: 1, name: 'Clone VM', type: 'openvle.pve.clone_vm', queue: 'pve_vm_clone', jobId: 'j1', status: 'failed', progress: 40,
  eventId: null, createdBy: null, result: null, error: null, createdAt: new Date('2026-11-30T11:58:00Z'),
  updatedAt: now, attempts: 6, lastError: null, ...over,
});

test('age', () => {
  assert.equal(age(new Date('2026-11-30T11:59:18Z'), now), '42s');
  assert.equal(age(new Date('2026-11-30T09:00:00Z'), now), '3h');
  assert.equal(age(new Date('2026-11-27T12:00:00Z'), now), '3d');
});

test('the tasks table: aligned columns, the last error on one cut line', () => {
  const out = formatTaskTable([
    row({ id: 12, lastError: `ExternalError: clone lock timeout\n  at x ${'y'.repeat(80)}` }),
    row({ id: 3, name: 'Send email', queue: 'mails', status: 'success', progress: 100, attempts: 1, createdAt: new Date('2026-11-29T12:00:00Z') }),
  ], now);
  const lines = out.split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^ID +NAME +QUEUE +STATUS +PROGRESS +ATTEMPTS +LAST ERROR +AGE$/);
  assert.match(lines[1]!, /^12 +Clone VM +pve_vm_clone +failed +40% +6 +ExternalError: clone lock timeout at x y+… +2m$/);
  assert.match(lines[2]!, /^3 +Send email +mails +success +100% +1 +1d$/);
  assert.equal(lines[1]!.indexOf('pve_vm_clone'), lines[0]!.indexOf('QUEUE'));
  assert.deepEqual(tasksAsJson([row({})])[0], {
    id: 1, name: 'Clone VM', type: 'openvle.pve.clone_vm', queue: 'pve_vm_clone', job_id: 'j1', status: 'failed', progress: 40,
    attempts: 6, last_error: null, event_id: null, created_by: null, created_at: '2026-11-30T11:58:00.000Z', updated_at: '2026-11-30T12:00:00.000Z',
  });
});
