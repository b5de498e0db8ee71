// (b) Our Queue.enqueue writes the jobs; a Python RQ 1.13 `rq worker --burst
// -S rq.serializers.JSONSerializer` (cwd py/, so it imports py/tasks.py) runs
// them; our API reads the outcome.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Dependency, Job, Queue, ResultType, Retry } from '../../src/index.js';
import { uniq } from '../helpers/util.js';
import { startRqWorker, interopRedis } from './helpers.js';

describe('TypeScript enqueues, Python worker runs', () => {
  const fx = interopRedis();

  /** Runs a Python burst worker named `name` on q to its exit; returns its output. */
  async function pythonBurst(q: string, name: string): Promise<string> {
    const w = startRqWorker(fx.url, [q], ['--burst', '-n', name]);
    const code = await w.exited;
    assert.equal(code, 0, `rq worker exited ${code}:\n${w.output()}`);
    return w.output();
  }

  test('tasks.add(2, 3), kwargs and meta: our API reads finished and the return values', async () => {
    const q = uniq('tsq');
    const queue = new Queue(q, fx.redis);
    const add = await queue.enqueue('tasks.add', { args: [2, 3] });
    const hello = await queue.enqueue('tasks.hello', { kwargs: { name: 'ts' } });
    const power = await queue.enqueue('tasks.power', { args: [3], kwargs: { exp: 3 } });
    const meta = await queue.enqueue('tasks.echo_meta', { meta: { owner: 'ts', n: 2 } });
    const wname = uniq('pyw').replace(/-/g, '');
    const out = await pythonBurst(q, wname);
    assert.match(out, /Job OK/);

    const a = await Job.fetch(fx.redis, add.id);
    assert.equal(a.status, 'finished', out);
    assert.equal(await a.returnValue(), 5);
    const r = await a.latestResult();
    assert.ok(r);
    assert.equal(r.type, ResultType.SUCCESSFUL);
    assert.equal(r.returnValue, 5);
    assert.equal(r.excString, null);
    assert.equal(a.workerName, wname);
    assert.ok(a.startedAt && a.endedAt, 'Python timestamps parse');

    assert.deepEqual(await (await Job.fetch(fx.redis, hello.id)).returnValue(), { greeting: 'hello ts' });
    assert.equal(await (await Job.fetch(fx.redis, power.id)).returnValue(), 27);
    const m = await Job.fetch(fx.redis, meta.id);
    assert.deepEqual(await m.returnValue(), { owner: 'ts', n: 2 });
    assert.deepEqual(m.meta, { owner: 'ts', n: 2 }, 'meta survives the Python worker re-saving the job');
    assert.deepEqual((await queue.finishedJobRegistry.jobIds()).sort(), [add.id, hello.id, power.id, meta.id].sort());
    assert.equal(await queue.count(), 0);
    assert.equal(await queue.startedJobRegistry.count(), 0);
  });

  test('a failing Python job: our API sees failed and the traceback in latestResult().excString', async () => {
    const q = uniq('tsq');
    const queue = new Queue(q, fx.redis);
    const job = await queue.enqueue('tasks.boom', { args: ['python says no'] });
    const out = await pythonBurst(q, uniq('pyw').replace(/-/g, ''));
    const j = await Job.fetch(fx.redis, job.id);
    assert.equal(j.status, 'failed', out);
    assert.equal(await j.returnValue(), null);
    const r = await j.latestResult();
    assert.ok(r);
    assert.equal(r.type, ResultType.FAILED);
    assert.match(r.excString ?? '', /^Traceback \(most recent call last\):/);
    assert.match(r.excString ?? '', /File ".*tasks\.py", line \d+, in boom/);
    assert.match(r.excString ?? '', /ValueError: python says no\n?$/);
    assert.deepEqual(await queue.failedJobRegistry.jobIds(), [job.id]);
  });

  test('retries and dependencies written by our API are honoured by the Python worker', async () => {
    const q = uniq('tsq');
    const queue = new Queue(q, fx.redis);
    const counter = uniq('ctr');
    // Fails once, retried at once (interval 0) by Python, then succeeds.
    const flaky = await queue.enqueue('tasks.flaky', { args: [counter, 1], retry: new Retry({ max: 2 }) });
    const child = await queue.enqueue('tasks.add', { args: [40, 2], dependsOn: flaky.id });
    assert.equal(child.status, 'deferred');
    // Never succeeds: exhausts its one retry, then fails for good.
    const doomed = await queue.enqueue('tasks.boom', { retry: new Retry({ max: 1 }) });
    const orphan = await queue.enqueue('tasks.add', { args: [1, 1], dependsOn: doomed.id });
    const tolerant = await queue.enqueue('tasks.add', {
      args: [2, 2],
      dependsOn: new Dependency({ jobs: [doomed.id], allowFailure: true }),
    });
    const out = await pythonBurst(q, uniq('pyw').replace(/-/g, ''));

    const f = await Job.fetch(fx.redis, flaky.id);
    assert.equal(f.status, 'finished', out);
    assert.equal(await f.returnValue(), 2);
    assert.equal(f.retriesLeft, 1);
    assert.equal(await fx.redis.get(counter), '2');
    const c = await Job.fetch(fx.redis, child.id);
    assert.equal(c.status, 'finished', out);
    assert.equal(await c.returnValue(), 42);

    const d = await Job.fetch(fx.redis, doomed.id);
    assert.equal(d.status, 'failed');
    assert.equal(d.retriesLeft, 0);
    assert.equal((await d.results()).length, 1, 'RQ 1.13 records only the final failure');
    assert.equal((await Job.fetch(fx.redis, orphan.id)).status, 'deferred', 'RQ leaves it deferred');
    const t = await Job.fetch(fx.redis, tolerant.id);
    assert.equal(t.status, 'finished', `allow_failure dependent:\n${out}`);
    assert.equal(await t.returnValue(), 4);
  });
});
