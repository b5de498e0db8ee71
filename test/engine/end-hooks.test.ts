// Worker end hooks: awaited after an execution ends and before the script
// that records its end, so that bookkeeping done there is in place before
// anyone sees the job ended or a dependent is released.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dependency, Queue, type Job, type JobEnding } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until } from '../helpers/util.js';

const fx = engineFixture();
const WAIT = 30_000;

test('the job reads started and its dependent stays deferred until the end hook settles; the hook sees the value or the error', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const ok = await q.enqueue('t.ok', { args: [2] });
  const bad = await q.enqueue('t.bad');
  const childOfOk = await q.enqueue('t.ok', { args: [0], dependsOn: new Dependency({ jobs: ok }) });
  const childOfBad = await q.enqueue('t.ok', { args: [0], dependsOn: new Dependency({ jobs: bad, allowFailure: true }) });
  const w = fx.worker([name], tasks({ 't.ok': (n: number) => n * 2, 't.bad': () => { throw new Error('boom'); } }), { concurrency: 4 });
  const held = new Map<string, { ending: JobEnding; statuses: [string | null, string | null]; release: () => void }>();
  w.addEndHook(async (job: Job, ending: JobEnding) => {
    if (job.id !== ok.id && job.id !== bad.id) return;
    const child = job.id === ok.id ? childOfOk : childOfBad;
    const statuses: [string | null, string | null] = [await job.getStatus(), await child.getStatus()];
    await new Promise<void>((release) => held.set(job.id, { ending, statuses, release }));
  });
  await until(async () => held.size === 2, WAIT, 20);
  // both hooks are still pending: nothing recorded yet
  assert.equal(await ok.getStatus(), 'started');
  assert.equal(await bad.getStatus(), 'started');
  assert.equal(await childOfOk.getStatus(), 'deferred');
  assert.equal(await childOfBad.getStatus(), 'deferred');
  const h = held.get(ok.id)!;
  const f = held.get(bad.id)!;
  assert.deepEqual(h.ending, { ok: true, value: 4 });
  assert.deepEqual(h.statuses, ['started', 'deferred']);
  assert.equal(f.ending.ok, false);
  assert.match(f.ending.ok ? '' : f.ending.error, /^Error: boom/);
  assert.equal(f.ending.ok ? undefined : f.ending.stopped, false);
  h.release();
  f.release();
  await until(async () => (await childOfOk.getStatus()) === 'finished' && (await childOfBad.getStatus()) === 'finished', WAIT, 20);
  assert.equal(await ok.getStatus(), 'finished');
  assert.equal(await bad.getStatus(), 'failed');
  w.stop();
  await w.done;
});

test('a throwing end hook is logged and the end recorded anyway; a removed hook is not called', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const w = fx.worker([name], tasks({ 't.ok': (n: number) => n }));
  let removedCalls = 0;
  const remove = w.addEndHook(() => {
    removedCalls++;
  });
  remove();
  w.addEndHook(() => {
    throw new Error('bookkeeping down');
  });
  const job = await q.enqueue('t.ok', { args: [1] });
  await until(async () => (await job.getStatus()) === 'finished', WAIT, 20);
  assert.equal(removedCalls, 0);
  w.stop();
  await w.done;
});
