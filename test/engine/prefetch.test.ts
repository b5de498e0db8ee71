import assert from 'node:assert/strict';
import { test } from 'node:test';
import { infoSnapshot, Queue, keys, resume, suspend } from '../../src/index.js';
import { birth, dequeue, recordEnd } from '../../src/engine/transitions.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

const parkedKey = (w: string) => `rq:worker:${w}:prefetched`;
const parkedIds = async (w: string) => (await fx.redis.lrange(parkedKey(w), 0, -1)).map((m) => m.slice(0, m.lastIndexOf(':')));

/** A worker whose first job blocks until `release`, holding `prefetch` more parked: returns once they are parked. */
async function blockedWorker(name: string, n: number, prefetch: number, opts: Record<string, unknown> = {}) {
  const q = new Queue(name, fx.redis);
  const ran: string[] = [];
  const first = gate();
  const release = gate();
  const jobs = [await q.enqueue('t.block')];
  for (let i = 0; i < n; i++) jobs.push(await q.enqueue('t.note', { args: [i] }));
  const w = fx.worker(
    [name],
    tasks({
      't.block': async () => (first.open(), await release.p),
      't.note': (i: number) => void ran.push(String(i)),
    }),
    { name: uniq('w'), prefetch, ...opts },
  );
  await first.p;
  await until(async () => (await fx.redis.llen(parkedKey(w.name))) === Math.min(prefetch, n));
  return { q, w, jobs, ran, release: release.open };
}

for (const prefetch of [1, 3]) {
  test(`prefetch ${prefetch}: every job runs exactly once, in queue order per queue, and nothing stays parked`, async () => {
    const a = uniq('qa');
    const b = uniq('qb');
    const ran: string[] = [];
    const qa = new Queue(a, fx.redis);
    const qb = new Queue(b, fx.redis);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      ids.push((await qa.enqueue('t.run', { args: [`a${i}`] })).id);
      ids.push((await qb.enqueue('t.run', { args: [`b${i}`] })).id);
    }
    const name = uniq('w');
    let sawParked = 0;
    const t = tasks({
      't.run': async (s: string) => {
        ran.push(s);
        if ((await fx.redis.llen(parkedKey(name))) > 0) sawParked++;
      },
    });
    const w = fx.worker([a, b], t, { name, burst: true, prefetch });
    await w.done;
    assert.ok(sawParked > 0, 'jobs were parked while others ran');
    assert.equal(ran.length, 120);
    assert.equal(new Set(ran).size, 120);
    // per queue, in the order enqueued
    assert.deepEqual(ran.filter((s) => s.startsWith('a')), Array.from({ length: 60 }, (_, i) => `a${i}`));
    assert.deepEqual(ran.filter((s) => s.startsWith('b')), Array.from({ length: 60 }, (_, i) => `b${i}`));
    for (const id of ids) assert.equal(await fx.redis.hget(keys.job(id), 'status'), 'finished');
    assert.equal(await fx.redis.exists(parkedKey(w.name)), 0);
    assert.equal(await fx.redis.zscore('rq:prefetchers', w.name), null);
    assert.equal(await fx.redis.zcard(`rq:wip:${a}`), 0);
    assert.equal(Number(await fx.redis.hget(keys.worker(w.name), 'successful_job_count')), 120);
  });
}

test('prefetch 1: an end does not wait for the reply that parks the next job; that job is started by its execution id', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push((await q.enqueue('t.run', { args: [i] })).id);
  // a start member '*<execution id>' (lua/include/prefetch.lua) in a worker call
  const blind = /^\*[0-9a-f]{32}$/;
  let blindStarts = 0;
  const monitor = await fx.connection().monitor();
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.some((a) => blind.test(String(a)))) blindStarts++;
  });
  const ran: number[] = [];
  const w = fx.worker([name], tasks({ 't.run': (i: number) => void ran.push(i) }), { name: uniq('w'), burst: true, prefetch: 1 });
  try {
    await w.done;
  } finally {
    monitor.disconnect();
  }
  assert.ok(blindStarts > 0, 'no call started a job still on its way');
  assert.deepEqual(ran, Array.from({ length: 40 }, (_, i) => i));
  for (const id of ids) assert.equal(await fx.redis.hget(keys.job(id), 'status'), 'finished');
  assert.equal(await fx.redis.exists(parkedKey(w.name)), 0);
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 0);
  assert.equal(Number(await fx.redis.hget(keys.worker(w.name), 'successful_job_count')), 40);
});

test('resent calls (lost replies): a parking gives the same job again, a start by execution id starts it once', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const jobs = [await q.enqueue('t.x'), await q.enqueue('t.x'), await q.enqueue('t.x')];
  const worker = uniq('w');
  await birth(fx.redis, { worker, keyTtl: 480, queues: [name], fields: [] });
  const next = (start: string[], park: number, execIds: string[]) => ({ count: 0, hbTtl: 60, execTtl: 60, queues: [name], execIds, prefetch: { start, park } });
  // the call that parks one job under e1, run twice
  const first = await dequeue(fx.redis, worker, next([], 1, ['e1']));
  const again = await dequeue(fx.redis, worker, next([], 1, ['e1']));
  assert.deepEqual(first.prefetched!.parked.map((t) => t.id), [jobs[0]!.id]);
  assert.deepEqual(again.prefetched!.parked.map((t) => t.id), [jobs[0]!.id]);
  assert.deepEqual(await fx.redis.lrange(parkedKey(worker), 0, -1), [`${jobs[0]!.id}:e1`]);
  assert.deepEqual(await fx.redis.lrange(`rq:queue:${name}`, 0, -1), [jobs[1]!.id, jobs[2]!.id]);
  // the call that starts it by its execution id and parks the next, run twice
  const start = await dequeue(fx.redis, worker, next(['*e1'], 1, ['e2']));
  const resent = await dequeue(fx.redis, worker, next(['*e1'], 1, ['e2']));
  assert.deepEqual(start.prefetched!.accepted, [true]);
  assert.deepEqual(resent.prefetched!.accepted, [true]);
  assert.deepEqual(resent.prefetched!.parked.map((t) => t.id), [jobs[1]!.id]);
  assert.equal(await fx.redis.hget(keys.job(jobs[0]!.id), 'status'), 'started');
  assert.deepEqual(await fx.redis.zrange(`rq:wip:${name}`, '0', '-1'), [`${jobs[0]!.id}:e1`]);
  assert.deepEqual(await fx.redis.lrange(parkedKey(worker), 0, -1), [`${jobs[1]!.id}:e2`]);
  // the end of the first job, which starts the second and parks the third,
  // run twice: the resend finds its end recorded and the parking made
  const end = { kind: 'finish', id: jobs[0]!.id, execId: 'e1', queue: name, returnValue: '', resultTtl: 500, hasDependencies: false, repeats: false, startedAt: 1, endedAt: 2 } as const;
  const ended = await recordEnd(fx.redis, worker, end, next(['*e2'], 1, ['e3']));
  const endResent = await recordEnd(fx.redis, worker, end, next(['*e2'], 1, ['e3']));
  assert.deepEqual([ended.outcomes, endResent.outcomes], [['finished'], ['stale']]);
  assert.deepEqual(ended.next.prefetched!.parked.map((t) => t.id), [jobs[2]!.id]);
  assert.deepEqual(endResent.next.prefetched!.parked.map((t) => t.id), [jobs[2]!.id]);
  assert.deepEqual(endResent.next.prefetched!.accepted, [true]);
  assert.deepEqual(await fx.redis.lrange(parkedKey(worker), 0, -1), [`${jobs[2]!.id}:e3`]);
  assert.deepEqual(await fx.redis.zrange(`rq:wip:${name}`, '0', '-1'), [`${jobs[1]!.id}:e2`]);
  // an execution id nothing was parked under starts nothing
  assert.deepEqual((await dequeue(fx.redis, worker, next(['*nothing'], 0, []))).prefetched!.accepted, [false]);
});

test('parked jobs stay queued, in no queue and in no RQ list, until they really start', async () => {
  const name = uniq('q');
  const { w, jobs, ran, release } = await blockedWorker(name, 5, 2);
  assert.deepEqual(await parkedIds(w.name), [jobs[1]!.id, jobs[2]!.id]);
  for (const j of jobs.slice(1, 3)) {
    const h = await fx.redis.hgetall(keys.job(j.id));
    assert.equal(h.status, 'queued');
    assert.ok(!h.started_at, 'not started');
    assert.equal(await fx.redis.exists(keys.executions(j.id)), 0);
  }
  assert.deepEqual(await fx.redis.lrange(`rq:queue:${name}`, 0, -1), jobs.slice(3).map((j) => j.id));
  assert.equal(await fx.redis.exists(`rq:queue:${name}:intermediate`), 0);
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 1);
  assert.equal(await fx.redis.hget(keys.worker(w.name), 'current_job'), jobs[0]!.id);
  // what `rq info` shows: the queue without the parked jobs, one executing, the worker busy on it
  const info = await infoSnapshot(fx.redis, [name]);
  const qi = info.queues.find((x) => x.name === name)!;
  assert.deepEqual([qi.queued, qi.executing, qi.finished, qi.failed], [3, 1, 0, 0]);
  const wi = info.workers.find((x) => x.name === w.name)!;
  assert.equal(wi.state, 'busy');
  assert.equal(wi.current_job, jobs[0]!.id);
  release();
  await until(() => ran.length === 5);
  assert.deepEqual(ran, ['0', '1', '2', '3', '4']);
});

test('a job canceled or deleted while parked is skipped, and the others run', async () => {
  const name = uniq('q');
  const { w, jobs, ran, release } = await blockedWorker(name, 4, 3);
  const skipped: string[] = [];
  w.on('job-skipped', (id) => skipped.push(id));
  const dropped = waitForEvent<[string]>(w, 'job-skipped', (id) => id === jobs[2]!.id);
  await jobs[2]!.cancel();
  await dropped;
  const deleted = waitForEvent<[string]>(w, 'job-skipped', (id) => id === jobs[1]!.id);
  await jobs[1]!.delete();
  await deleted;
  assert.deepEqual(await parkedIds(w.name), [jobs[3]!.id]);
  release();
  await until(() => ran.length === 2);
  await until(async () => (await fx.redis.hget(keys.job(jobs[4]!.id), 'status')) === 'finished');
  assert.deepEqual(ran, ['2', '3']);
  assert.equal(await fx.redis.hget(keys.job(jobs[2]!.id), 'status'), 'canceled');
  assert.equal(await fx.redis.exists(keys.job(jobs[1]!.id)), 0);
  assert.equal(await fx.redis.exists(keys.results(jobs[2]!.id)), 0);
  assert.deepEqual(skipped.sort(), [jobs[1]!.id, jobs[2]!.id].sort());
});

test('a parked job whose drop message was lost is refused at its start: its run is aborted and nothing recorded', async () => {
  const name = uniq('q');
  const { w, jobs, release } = await blockedWorker(name, 2, 1);
  const [member] = await fx.redis.lrange(parkedKey(w.name), 0, -1);
  // what cancel.lua does, without the message that tells the worker
  await fx.redis.lrem(parkedKey(w.name), 1, member!);
  await fx.redis.hset(keys.job(jobs[1]!.id), 'status', 'canceled');
  const skipped = waitForEvent<[string]>(w, 'job-skipped', (id) => id === jobs[1]!.id);
  release();
  await skipped;
  await until(async () => (await fx.redis.hget(keys.job(jobs[2]!.id), 'status')) === 'finished');
  assert.equal(await fx.redis.hget(keys.job(jobs[1]!.id), 'status'), 'canceled');
  assert.equal(await fx.redis.exists(keys.results(jobs[1]!.id)), 0);
  assert.equal(await fx.redis.zscore(`rq:finished:${name}`, jobs[1]!.id), null);
  assert.equal(await fx.redis.exists(keys.executions(jobs[1]!.id)), 0);
});

for (const cold of [false, true]) {
  test(`a ${cold ? 'cold' : 'warm'} stop hands parked jobs back to the front of their queue at once`, async () => {
    const name = uniq('q');
    const { w, jobs, ran, release } = await blockedWorker(name, 5, 3);
    w.stop({ cold });
    // back before the running job ends (a warm stop waits for it)
    await until(async () => (await fx.redis.llen(`rq:queue:${name}`)) === 5);
    assert.deepEqual(await fx.redis.lrange(`rq:queue:${name}`, 0, -1), jobs.slice(1).map((j) => j.id));
    assert.equal(await fx.redis.exists(parkedKey(w.name)), 0);
    release();
    await w.done;
    assert.deepEqual(ran, []);
    assert.equal(await fx.redis.zscore('rq:prefetchers', w.name), null);
    for (const j of jobs.slice(1)) assert.equal(await fx.redis.hget(keys.job(j.id), 'status'), 'queued');
  });
}

test('suspension: parked jobs not yet started go back to the front of the queue, nothing new is taken, all run after resume', async () => {
  const name = uniq('q');
  const { w, jobs, ran, release } = await blockedWorker(name, 3, 2);
  await suspend(fx.redis);
  try {
    release();
    // The end's call starts the first parked job and sees the suspension;
    // the worker runs that job already, and may have started the second
    // parked one (pipelined) before the reply told it: parked jobs were
    // taken before the suspension, as a job being dequeued in RQ is.
    await until(async () => (await fx.redis.hget(keys.worker(w.name), 'state')) === 'suspended' && (await fx.redis.llen(parkedKey(w.name))) === 0);
    await until(async () => (await fx.redis.llen(`rq:queue:${name}`)) === 3 - ran.length);
    assert.ok(ran.length >= 1 && ran.length <= 2, `ran ${ran.join()}`);
    assert.deepEqual(await fx.redis.lrange(`rq:queue:${name}`, 0, -1), jobs.slice(1 + ran.length).map((j) => j.id));
  } finally {
    await resume(fx.redis);
  }
  await until(() => ran.length === 3, 15_000);
  assert.deepEqual(ran, ['0', '1', '2']);
  assert.equal(await fx.redis.exists(parkedKey(w.name)), 0);
});

test("a dead worker's parked jobs go back to the front of their queue on the next recovery pass", async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const parked = [await q.enqueue('t.x'), await q.enqueue('t.x')];
  const waiting = await q.enqueue('t.x');
  await fx.redis.lrem(`rq:queue:${name}`, 0, parked[0]!.id);
  await fx.redis.lrem(`rq:queue:${name}`, 0, parked[1]!.id);
  const dead = uniq('dead');
  await fx.redis.rpush(parkedKey(dead), `${parked[0]!.id}:e1`, `${parked[1]!.id}:e2`);
  // its last heartbeat was more than the dead-worker timeout ago
  await fx.redis.zadd('rq:prefetchers', Date.now() / 1000 - 1, dead);
  const w = fx.worker([uniq('other')], tasks({}), { name: uniq('w') });
  const recovered: [string, string][] = [];
  w.on('job-recovered', (id, outcome) => recovered.push([id, outcome]));
  // its first recovery pass, at start
  await waitForEvent(w, 'started');
  assert.deepEqual(await fx.redis.lrange(`rq:queue:${name}`, 0, -1), [parked[0]!.id, parked[1]!.id, waiting.id]);
  assert.equal(await fx.redis.exists(parkedKey(dead)), 0);
  assert.equal(await fx.redis.zscore('rq:prefetchers', dead), null);
  assert.deepEqual(recovered.sort(), parked.map((j) => [j.id, 'handed-back']).sort());
});

test('a live worker keeps its parked jobs through recovery passes; the heartbeat hands back ones it does not know (lost reply)', async () => {
  const name = uniq('q');
  const { w, jobs, ran, release } = await blockedWorker(name, 2, 1, { jobMonitoringInterval: 1, deadWorkerTimeout: 3 });
  const stray = await new Queue(name, fx.redis).enqueue('t.note', { args: [9] });
  await fx.redis.lrem(`rq:queue:${name}`, 0, stray.id);
  // a parked member whose reply never reached the worker
  await fx.redis.lpush(parkedKey(w.name), `${stray.id}:lost0`);
  const handed = await waitForEvent<[string]>(w, 'job-handed-back', (id) => id === stray.id);
  assert.equal(handed[0], stray.id);
  assert.equal(await fx.redis.lindex(`rq:queue:${name}`, 0), stray.id);
  await w.recoverAbandoned();
  assert.deepEqual(await parkedIds(w.name), [jobs[1]!.id]);
  release();
  await until(() => ran.length === 3);
  assert.deepEqual(ran, ['0', '9', '1']);
});

test('a parking list that never empties keeps its worker alive: heartbeats keep its rq:prefetchers score ahead, so recovery hands nothing back', async () => {
  // Each call parks the next job before it starts the one parked before, so
  // with prefetch 1 the list lives from the first job to the last and its
  // score is written once; past deadWorkerTimeout only the heartbeats keep it.
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  for (let i = 0; i < 8; i++) await q.enqueue('t.work', { args: [i] });
  const wname = uniq('w');
  const handed: string[] = [];
  const lateScores: number[] = [];
  let listSeenEmpty = false;
  let recover!: () => Promise<unknown>;
  const t = tasks({
    // half a second of work per job: eight of them outlast the 3 s timeout
    't.work': async (i: number) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (i > 0 && i < 7 && (await fx.redis.llen(parkedKey(wname))) === 0) listSeenEmpty = true;
      const score = Number(await fx.redis.zscore('rq:prefetchers', wname));
      if (i > 0 && i < 7 && !(score > Date.now() / 1000)) lateScores.push(score);
      await recover();
    },
  });
  const w = fx.worker([name], t, { name: wname, burst: true, prefetch: 1, jobMonitoringInterval: 1, deadWorkerTimeout: 3 });
  recover = () => w.recoverAbandoned();
  w.on('job-handed-back', (id) => handed.push(id));
  w.on('job-recovered', (id) => handed.push(id));
  await w.done;
  assert.equal(listSeenEmpty, false, 'the parking list stayed non-empty while jobs were left');
  assert.deepEqual(lateScores, []);
  assert.deepEqual(handed, []);
  assert.equal(Number(await fx.redis.hget(keys.worker(wname), 'successful_job_count')), 8);
});

test('empty() deletes the queue\'s parked jobs too; maxJobs never parks what the worker will not run', async () => {
  const name = uniq('q');
  const { q, w, jobs, ran, release } = await blockedWorker(name, 3, 2);
  assert.equal(await q.empty(), 3);
  await until(async () => (await fx.redis.llen(parkedKey(w.name))) === 0);
  for (const j of jobs.slice(1)) assert.equal(await fx.redis.exists(keys.job(j.id)), 0);
  release();
  await waitForEvent(w, 'idle');
  assert.deepEqual(ran, []);

  const other = uniq('q');
  const q2 = new Queue(other, fx.redis);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await q2.enqueue('t.x')).id);
  const w2 = fx.worker([other], tasks({ 't.x': () => {} }), { name: uniq('w'), prefetch: 3, maxJobs: 2 });
  await w2.done;
  assert.deepEqual(await fx.redis.lrange(`rq:queue:${other}`, 0, -1), ids.slice(2));
});

test('prefetch is validated: an integer from 0 to 1000', () => {
  for (const prefetch of [-1, 1.5, 1001, Number.NaN]) {
    assert.throws(() => fx.worker([uniq('q')], tasks({}), { prefetch }), /prefetch must be an integer from 0 to 1000/);
  }
});

