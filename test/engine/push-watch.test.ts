import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { Job, keys } from '../../src/index.js';
import { PushWatch } from '../../src/engine/worker/push-watch.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { pushLikePython } from '../helpers/python-producer.js';
import { uniq, waitForEvent } from '../helpers/util.js';

// A file of its own: it kills every connection and flushes the database.
const fx = engineFixture();

test('after arming finds jobs, the invalidation that taking them sends wakes nobody; the next push does', async () => {
  const q = uniq('q');
  let wakes = 0;
  const watch = new PushWatch(fx.connection(), [q], () => wakes++, () => {});
  await watch.start();
  try {
    const base = wakes; // start() looks once, for pushes made before the watch
    await fx.redis.rpush(keys.queue(q), 'pushed-before-arming');
    assert.equal(await watch.arm(), true);
    assert.equal(watch.armed, false, 'found jobs: the caller must arm again before it sleeps');
    // the worker's dequeue: a write to the key the arming just read
    await fx.redis.lpop(keys.queue(q));
    assert.equal(await watch.arm(), false);
    await fx.redis.rpush(keys.queue(q), 'pushed-while-armed');
    // Invalidations and this marker travel in order on the watch's receiving
    // connection: once the marker is seen, both invalidations have been handled.
    const watcher = (watch as unknown as { watcher: Redis }).watcher;
    const marker = uniq('marker');
    const seen = new Promise<void>((resolve) => watcher.on('message', (_c: string, m: string) => m === marker && resolve()));
    await fx.redis.publish('__redis__:invalidate', marker);
    await seen;
    assert.equal(wakes - base, 1, 'one wake-up: the push, not the dequeue');
  } finally {
    await watch.stop();
  }
});

test('the push watch survives killed connections and a FLUSHALL', async () => {
  const name = uniq('q');
  const w = fx.worker([name], tasks({ 'tasks.add': (x: number, y: number) => x + y }), { idlePollInterval: 600_000 });
  await waitForEvent(w, 'idle');
  // every connection but the test's own: the worker's, its pub/sub and its watch connections
  const back = waitForEvent(w, 'idle', undefined, 15_000);
  await fx.redis.call('CLIENT', 'KILL', 'SKIPME', 'yes');
  // Re-established tracking makes the worker look once (for pushes it missed), then idle.
  await back;
  const id = uniq('py-job');
  await pushLikePython(fx.redis, name, id, [1, 1]);
  const [pj] = await waitForEvent<[Job, unknown]>(w, 'job-finished', undefined, 15_000);
  assert.equal(pj.id, id);
  await waitForEvent(w, 'idle');
  const flushed = waitForEvent(w, 'idle', undefined, 15_000);
  await fx.redis.flushall();
  // A FLUSHALL drops every tracked key and says so: the worker looks once and watches again.
  await flushed;
  const id2 = uniq('py-job');
  await pushLikePython(fx.redis, name, id2, [2, 2]);
  const [pj2] = await waitForEvent<[Job, unknown]>(w, 'job-finished', undefined, 15_000);
  assert.equal(pj2.id, id2);
  w.stop();
  await w.done;
});
