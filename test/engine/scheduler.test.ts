import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Scheduler, silentLogger, keys } from '../../src/index.js';
import { engineFixture } from '../helpers/engine.js';
import { uniq, until } from '../helpers/util.js';

const fx = engineFixture();

test('two schedulers on one queue, locks changing hands, enqueue every job exactly once', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const N = 600;
  const now = Date.now();
  const jobs = await q.enqueueMany(Array.from({ length: N }, (_, i) => ({ func: 't.ok', args: [i], at: now + 200 + Math.random() * 2500 })));
  const mk = (n: string) =>
    new Scheduler(fx.connection(), [name], { name: n, logger: silentLogger, lockTtl: 1, lockRefreshMs: 20, maxSleepMs: 50 });
  const a = mk('sched-a');
  const b = mk('sched-b');
  a.start();
  b.start();
  // Force the lock to change hands again and again, as an expiry after a long pause would.
  let handovers = 0;
  const thief = setInterval(() => {
    void fx.redis.del(keys.schedulerLock(name)).then(() => handovers++);
  }, 37);
  try {
    await until(async () => (await q.count()) === N && (await q.scheduledJobRegistry.count()) === 0, 15_000);
  } finally {
    clearInterval(thief);
    await a.stop();
    await b.stop();
  }
  const ids = await q.jobIds();
  assert.equal(ids.length, N);
  assert.equal(new Set(ids).size, N, 'no job enqueued twice');
  assert.deepEqual(new Set(ids), new Set(jobs.map((j) => j.id)));
  assert.ok(handovers > 10, `only ${handovers} lock handovers`);
});

test('a scheduler that lost its lock cannot enqueue, and does not extend the new owner\'s lock', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const s = new Scheduler(fx.connection(), [name], { name: 'old-owner', logger: silentLogger });
  assert.equal(await s.runOnce(), 0);
  assert.deepEqual(s.heldQueues(), [name]);
  await fx.redis.set(keys.schedulerLock(name), 'new-owner', 'EX', 30);
  await q.enqueueAt(Date.now() - 1000, 't.ok');
  // the old owner's pass must neither move the job nor touch the lock
  await (s as unknown as { move(q: string): Promise<unknown> }).move(name);
  assert.equal(await q.count(), 0);
  assert.equal(await fx.redis.get(keys.schedulerLock(name)), 'new-owner');
  await s.stop();
  assert.equal(await fx.redis.get(keys.schedulerLock(name)), 'new-owner', 'stop releases only its own locks');
});

test("rq:scheduler:<name> keeps its created_at across lock refreshes; last_heartbeat moves", async () => {
  const name = uniq('q');
  const s = new Scheduler(fx.connection(), [name], { name: uniq('sched'), logger: silentLogger });
  await s.runOnce();
  const first = await fx.redis.hmget(keys.scheduler(s.name), 'created_at', 'last_heartbeat');
  await until(async () => {
    await s.runOnce();
    return (await fx.redis.hget(keys.scheduler(s.name), 'last_heartbeat')) !== first[1];
  });
  assert.equal(await fx.redis.hget(keys.scheduler(s.name), 'created_at'), first[0]);
  await s.stop();
});
