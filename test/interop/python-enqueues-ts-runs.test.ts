// (a) Python RQ 1.13 enqueues with the JSON serializer; our Worker runs the
// jobs in burst mode; Python reads the outcome back through its own API.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type Job, type TaskRegistry } from '../../src/index.js';
import { uniq, waitForEvent } from '../helpers/util.js';
import { loadTasks, py, tsWorker, interopRedis } from './helpers.js';

describe('Python enqueues, TypeScript worker runs', () => {
  const fx = interopRedis();
  let tasks: TaskRegistry;
  before(async () => {
    tasks = await loadTasks();
  });

  /** Python enqueues `cmds`, one burst TS worker drains the queue; returns the ids and the worker. */
  async function enqueueAndDrain(q: string, cmds: Record<string, unknown>[]) {
    const enq = await py<{ id: string; status: string }>(fx.url, cmds.map((c) => ({ op: 'enqueue', queue: q, ...c })));
    for (const e of enq) assert.equal(e.status, 'queued');
    const worker = tsWorker(fx.redis, tasks, [q], { burst: true });
    const seen: string[] = [];
    worker.on('job-finished', (job) => seen.push(job.id));
    worker.on('job-failed', (job) => seen.push(job.id));
    await worker.work();
    assert.deepEqual(seen.sort(), enq.map((e) => e.id).sort(), 'the burst worker ran every Python job');
    return { ids: enq.map((e) => e.id), worker };
  }

  test('tasks.add(2, 3): Python reads finished and the return value 5', async () => {
    const q = uniq('pyq');
    const { ids, worker } = await enqueueAndDrain(q, [{ func: 'tasks.add', args: [2, 3] }]);
    const [job, regs] = await py(fx.url, [
      { op: 'fetch', id: ids[0] },
      { op: 'registries', queue: q },
    ]);
    assert.equal(job.status, 'finished');
    assert.equal(job.is_finished, true);
    assert.equal(job.result, 5);
    assert.equal(job.return_value, 5);
    assert.equal(job.latest_result.type_name, 'SUCCESSFUL');
    assert.equal(job.latest_result.return_value, 5);
    assert.equal(job.results.length, 1);
    assert.equal(job.worker_name, worker.name);
    assert.equal(job.origin, q);
    assert.ok(job.started_at && job.ended_at, 'started_at and ended_at parse in Python');
    assert.ok(job.ended_at >= job.started_at);
    assert.deepEqual(regs.finished, [ids[0]]);
    assert.deepEqual(regs.started, []);
    assert.deepEqual(regs.failed, []);
    assert.equal(regs.count, 0);
  });

  test('kwargs: tasks.hello(name=...) and tasks.power(2, exp=10)', async () => {
    const q = uniq('pyq');
    const { ids } = await enqueueAndDrain(q, [
      { func: 'tasks.hello', kwargs: { name: 'py' } },
      { func: 'tasks.power', args: [2], kwargs: { exp: 10 } },
    ]);
    const [hello, power] = await py(fx.url, ids.map((id) => ({ op: 'fetch', id })));
    assert.equal(hello.status, 'finished');
    assert.deepEqual(hello.result, { greeting: 'hello py' });
    assert.deepEqual(hello.kwargs, { name: 'py' });
    assert.equal(power.status, 'finished');
    assert.equal(power.result, 1024);
  });

  test('meta written by Python is seen by the task, and meta the task saves is read by Python', async () => {
    const q = uniq('pyq');
    const meta = { owner: 'py', n: 1, tags: ['a', 'é'] };
    const { ids } = await enqueueAndDrain(q, [
      { func: 'tasks.echo_meta', meta },
      { func: 'tasks.tag_meta', meta },
    ]);
    const [echo, tagged] = await py(fx.url, ids.map((id) => ({ op: 'fetch', id })));
    assert.equal(echo.status, 'finished');
    assert.deepEqual(echo.result, meta, 'the TS task saw the meta Python wrote');
    assert.deepEqual(echo.meta, meta, 'finishing the job left meta alone');
    assert.equal(tagged.status, 'finished');
    assert.deepEqual(tagged.meta, { ...meta, seen_by: 'ts' }, 'Python reads the meta the TS task saved');
    assert.deepEqual(tagged.result, { ...meta, seen_by: 'ts' });
  });

  test('a failing job: Python reads failed, exc_info and a FAILED latest_result', async () => {
    const q = uniq('pyq');
    const { ids, worker } = await enqueueAndDrain(q, [{ func: 'tasks.boom', args: ['no luck from ts'] }]);
    const [job, regs] = await py(fx.url, [
      { op: 'fetch', id: ids[0] },
      { op: 'registries', queue: q },
    ]);
    assert.equal(job.status, 'failed');
    assert.equal(job.is_failed, true);
    assert.equal(job.result, null);
    assert.equal(job.return_value, null);
    assert.equal(job.latest_result.type_name, 'FAILED');
    assert.match(job.latest_result.exc_string, /Error: no luck from ts/);
    assert.match(job.exc_info, /Error: no luck from ts/);
    assert.equal(job.worker_name, worker.name);
    assert.deepEqual(regs.failed, [ids[0]]);
    assert.deepEqual(regs.finished, []);
  });

  test('Python requeues a job our worker failed (FailedJobRegistry.requeue); our worker runs it again', async () => {
    const q = uniq('pyq');
    const counter = uniq('ctr');
    const { ids } = await enqueueAndDrain(q, [{ func: 'tasks.flaky', args: [counter, 1] }]);
    const [failed, requeued] = await py(fx.url, [
      { op: 'fetch', id: ids[0] },
      { op: 'requeue', queue: q, id: ids[0] },
    ]);
    assert.equal(failed.status, 'failed');
    assert.equal(requeued.status, 'queued');
    const worker = tsWorker(fx.redis, tasks, [q], { burst: true });
    const finished = waitForEvent<[Job, unknown]>(worker, 'job-finished', (job) => job.id === ids[0]);
    await worker.work();
    const [, value] = await finished;
    assert.equal(value, 2);
    const [job, regs] = await py(fx.url, [
      { op: 'fetch', id: ids[0] },
      { op: 'registries', queue: q },
    ]);
    assert.equal(job.status, 'finished');
    assert.equal(job.result, 2);
    assert.deepEqual(job.results.map((r: { type_name: string }) => r.type_name), ['SUCCESSFUL', 'FAILED']);
    assert.deepEqual(regs.failed, []);
    assert.deepEqual(regs.finished, [ids[0]]);
  });

  test('a Python job naming a task the TS worker lacks fails, and Python reads why', async () => {
    const q = uniq('pyq');
    const { ids } = await enqueueAndDrain(q, [{ func: 'tasks.not_there', args: [1] }]);
    const job = (await py(fx.url, [{ op: 'fetch', id: ids[0] }]))[0];
    assert.equal(job.status, 'failed');
    assert.match(job.exc_info, /tasks\.not_there/);
  });
});
