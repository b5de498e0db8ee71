import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, keys } from '../../src/index.js';
import { QUEUES, QUEUE_NAMES, isOpenVleQueue, retryDelays, retryPolicy, toRetry } from '../../src/openvle/queues.js';
import { ROLES, ROLE_NAMES, UnknownRoleError, roleByName } from '../../src/openvle/roles.js';
import { engineFixture, tasks } from '../helpers/engine.js';

const fx = engineFixture();
const cfg = (maxRetry: number) => ({ worker: { maxRetry } });

test('the seven queues of the seed, with their retries and intervals', () => {
  assert.deepEqual([...QUEUE_NAMES].sort(), ['core_periodic', 'guacamole', 'mails', 'moodle', 'pve_periodic', 'pve_vm_actions', 'pve_vm_clone']);
  const table = Object.fromEntries(QUEUE_NAMES.map((q) => [q, [QUEUES[q].maxRetries, QUEUES[q].intervals.join('/')]]));
  assert.deepEqual(table, {
    pve_vm_clone: ['WORKER_MAX_RETRY', '10/30/60'],
    pve_vm_actions: ['WORKER_MAX_RETRY', '5/10/15'],
    pve_periodic: [3, '5/10/15'],
    mails: ['WORKER_MAX_RETRY', '30/60/120'],
    guacamole: ['WORKER_MAX_RETRY', '10/30/60'],
    moodle: ['WORKER_MAX_RETRY', '10/30/60'],
    core_periodic: [3, '5/10/15'],
  });
  assert.equal(isOpenVleQueue('mails'), true);
  assert.equal(isOpenVleQueue('default'), false);
});

test('retryPolicy follows WORKER_MAX_RETRY except on the two periodic queues', () => {
  assert.deepEqual(retryPolicy('pve_vm_clone', cfg(5)), { max: 5, intervals: [10, 30, 60] });
  assert.deepEqual(retryPolicy('mails', cfg(2)), { max: 2, intervals: [30, 60, 120] });
  assert.deepEqual(retryPolicy('pve_periodic', cfg(9)), { max: 3, intervals: [5, 10, 15] });
  assert.deepEqual(retryPolicy('core_periodic', cfg(0)), { max: 3, intervals: [5, 10, 15] });
  assert.equal(toRetry(retryPolicy('moodle', cfg(0))), undefined);
  assert.throws(() => retryPolicy('nope' as never, cfg(5)), /Unknown OpenVLE queue 'nope'/);
});

test('each retry waits as RQ indexes the list: aligned to its end, the first interval repeating', () => {
  // the default WORKER_MAX_RETRY of 5 over three intervals
  assert.deepEqual(retryDelays(retryPolicy('pve_vm_clone', cfg(5))), [10, 10, 10, 30, 60]);
  assert.deepEqual(retryDelays(retryPolicy('pve_vm_actions', cfg(5))), [5, 5, 5, 10, 15]);
  assert.deepEqual(retryDelays(retryPolicy('mails', cfg(5))), [30, 30, 30, 60, 120]);
  // exactly as many retries as intervals: each once, in order
  assert.deepEqual(retryDelays(retryPolicy('pve_periodic', cfg(5))), [5, 10, 15]);
  // fewer: the first intervals are never used
  assert.deepEqual(retryDelays(retryPolicy('guacamole', cfg(2))), [30, 60]);
  assert.deepEqual(retryDelays(retryPolicy('moodle', cfg(1))), [60]);
  assert.deepEqual(retryDelays(retryPolicy('moodle', cfg(0))), []);
});

test("the engine's fail script waits what retryDelays says (pve_vm_actions, WORKER_MAX_RETRY 5)", async () => {
  const policy = retryPolicy('pve_vm_actions', cfg(5));
  const name = 'pve_vm_actions'; // this file's Redis is its own
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.fail', { retry: toRetry(policy) });
  const fail = tasks({ 't.fail': () => { throw new Error('transient'); } });
  const waits: number[] = [];
  for (let i = 0; i < policy.max; i++) {
    await fx.worker([name], fail, { burst: true }).done;
    const score = await fx.redis.zscore(`rq:scheduled:${name}`, job.id);
    assert.notEqual(score, null, `attempt ${i + 1} was not scheduled for a retry`);
    waits.push(Math.round(Number(score) - Date.now() / 1000));
    // what the scheduler does when the time comes, without waiting for it
    await fx.redis.zrem(`rq:scheduled:${name}`, job.id);
    await fx.redis.rpush(keys.queue(name), job.id);
  }
  assert.deepEqual(waits, retryDelays(policy));
  await fx.worker([name], fail, { burst: true }).done;
  assert.equal(await fx.redis.hget(keys.job(job.id), 'status'), 'failed');
});

test('roles: queues in priority order, concurrency, scheduler', () => {
  assert.deepEqual([...ROLE_NAMES], ['worker', 'worker-vm-clone', 'worker-periodic', 'worker-all', 'scheduler']);
  assert.deepEqual(ROLES.worker.queues, ['core_periodic', 'guacamole', 'mails', 'moodle', 'pve_vm_actions']);
  assert.deepEqual(ROLES['worker-vm-clone'].queues, ['pve_vm_clone']);
  assert.deepEqual(ROLES['worker-periodic'].queues, ['pve_periodic']);
  assert.deepEqual([...ROLES['worker-all'].queues].sort(), [...QUEUE_NAMES].sort());
  assert.deepEqual(ROLES.scheduler.queues, []);
  assert.equal(ROLES.scheduler.cron, true);
  for (const r of ROLE_NAMES.filter((n) => n !== 'scheduler')) {
    assert.equal(ROLES[r].cron, false);
    assert.equal(ROLES[r].withScheduler, true, `${r} must move scheduled retries back`);
    assert.ok(ROLES[r].concurrency >= 1);
  }
  assert.equal(roleByName('Worker-VM-Clone').name, 'worker-vm-clone');
});

test('an unknown role is one line naming every valid role', () => {
  assert.throws(
    () => roleByName('backend'),
    (err: unknown) =>
      err instanceof UnknownRoleError &&
      err.message === "Unknown role 'backend': use one of worker, worker-vm-clone, worker-periodic, worker-all, scheduler",
  );
});
