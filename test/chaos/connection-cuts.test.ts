// Chaos 3: a TCP proxy between the workers (and a producer) and Redis cuts
// every connection mid-stream, or lets a command run and drops its reply,
// several times a second. Nobody is killed, so every job must run exactly
// once: ioredis resends what was in flight, and the scripts must make that
// harmless (or hand back what a lost reply left behind).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, currentJob, Queue, Retry, silentLogger, Worker } from '../../src/index.js';
import { SCRIPT_NAMES, scriptSources, scriptWireMarkers } from '../../src/engine/scripts.js';
import { tasks } from '../helpers/engine.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';
import { FAST, runsByJob, settle, SOAK, summary, WorkerProc, chaosRedis } from './helpers.js';

const fx = chaosRedis({ proxy: true });

/** Per script: its reply was dropped once, and what came of it. */
const lostReplies: string[] = [];

/**
 * What each script call looks like on the wire, by script name. A call is an
 * FCALL (Functions) or an EVALSHA: the scripts are loaded here, so that a
 * first call on a connection is no NOSCRIPT and EVAL.
 */
async function scriptMarkers(): Promise<Map<string, string[]>> {
  for (const lua of scriptSources().values()) await fx.redis.script('LOAD', lua);
  return new Map<string, string[]>(SCRIPT_NAMES.map((n) => [n, scriptWireMarkers(n)]));
}

test('a lost reply for each worker script: the resend (or the heartbeat) makes it harmless', { timeout: 120_000 }, async () => {
  const sha = await scriptMarkers();
  const q = uniq('lr');
  const runs = new Map<string, number>();
  const t = tasks({
    't.ok': () => {
      const id = currentJob().job.id;
      runs.set(id, (runs.get(id) ?? 0) + 1);
      return new Promise((r) => setTimeout(r, 50));
    },
    't.fail': () => {
      const id = currentJob().job.id;
      runs.set(id, (runs.get(id) ?? 0) + 1);
      throw new Error('designed to fail');
    },
  });
  const conns: Redis[] = [];
  const viaProxy = () => {
    const c = createRedis(fx.proxy.url);
    c.on('error', () => {});
    conns.push(c);
    return c;
  };
  const opts = { ...FAST, cleanInterval: 1, logger: silentLogger, connection: viaProxy(), tasks: t };
  const handed: string[] = [];
  const dropped0 = fx.proxy.stats.repliesDropped;

  // birth: resent after its reply was lost, it must not take its own worker for a live namesake.
  fx.proxy.dropReplyTo(...sha.get('birth')!);
  const w = new Worker([q], opts);
  w.on('error', () => {});
  w.on('job-handed-back', (id) => handed.push(id));
  const done = w.work();
  await Promise.race([waitForEvent(w, 'started', undefined, 15_000), done]);
  lostReplies.push('birth');

  const producer = viaProxy();
  const queue = new Queue(q, producer);
  const expectRuns = new Map<string, number>();
  // enqueue, dequeue, finish (its dequeue tail), fail, heartbeat, recover, clean-registries: one lost reply each.
  for (const [script, func, retry] of [
    ['enqueue', 't.ok', 0],
    ['dequeue', 't.ok', 0],
    ['finish', 't.ok', 0],
    ['fail', 't.fail', 1],
    ['heartbeat', 't.ok', 0],
    ['recover', 't.ok', 0],
    ['clean-registries', 't.ok', 0],
  ] as const) {
    await until(() => w.runningJobIds().length === 0 && [...expectRuns.keys()].every((id) => runs.has(id)), 15_000);
    fx.proxy.dropReplyTo(...sha.get(script)!);
    const jobs = await queue.enqueueMany(
      Array.from({ length: 3 }, () => ({ func, retry: retry ? new Retry({ max: retry }) : undefined })),
    );
    for (const j of jobs) expectRuns.set(j.id, retry + 1);
    await settle(fx.redis, [q], new Map(jobs.map((j) => [j.id, [func === 't.fail' ? 'failed' : 'finished']])), 20_000);
    lostReplies.push(script);
    await until(() => fx.proxy.stats.repliesDropped - dropped0 === lostReplies.length, 10_000);
  }
  // cancel and requeue (a user's calls): the resend must be answered as the
  // first run was, not refused because the job is already canceled / queued.
  const idle = uniq('idle');
  const [victim] = await new Queue(idle, producer).enqueueMany([{ func: 't.ok' }]);
  for (const [script, act, status] of [
    ['cancel', () => victim!.cancel(), 'canceled'],
    ['requeue', () => victim!.requeue(), 'queued'],
  ] as const) {
    fx.proxy.dropReplyTo(...sha.get(script)!);
    await act();
    lostReplies.push(script);
    assert.equal(await victim!.getStatus(), status, `${script} after a lost reply`);
  }
  assert.deepEqual(await fx.redis.lrange(`rq:queue:${idle}`, 0, -1), [victim!.id], 'requeued once');
  assert.equal(await fx.redis.zcard(`rq:canceled:${idle}`), 0);

  // death: the worker's last script; its resend must not hang the stop.
  fx.proxy.dropReplyTo(...sha.get('death')!);
  w.stop();
  await done;
  lostReplies.push('death');
  for (const c of conns) c.disconnect();
  fx.proxy.clearDrops();

  assert.equal(fx.proxy.stats.repliesDropped - dropped0, lostReplies.length, 'every armed reply was dropped');
  const wrong = [...expectRuns].filter(([id, n]) => runs.get(id) !== n).map(([id, n]) => `${id}: ran ${runs.get(id) ?? 0} times, not ${n}`);
  assert.deepEqual(wrong, []);
  const left = await settle(fx.redis, [q], new Map(), 5000);
  assert.ok(left.ok, `left in flight: ${JSON.stringify(left.left)}`);
  assert.ok((await fx.redis.hget(`rq:worker:${w.name}`, 'death')) !== null, 'death recorded');
});

test('prefetch: a lost reply to the calls that start and park jobs, and to unpark: every job runs once, none stays parked', { timeout: 120_000 }, async () => {
  const sha = await scriptMarkers();
  const q = uniq('pf');
  const runs = new Map<string, number>();
  const t = tasks({
    't.ok': (ms: number) => {
      const id = currentJob().job.id;
      runs.set(id, (runs.get(id) ?? 0) + 1);
      return new Promise((r) => setTimeout(r, ms));
    },
  });
  const conn = createRedis(fx.proxy.url);
  conn.on('error', () => {});
  const w = new Worker([q], { ...FAST, logger: silentLogger, connection: conn, tasks: t, prefetch: 2 });
  w.on('error', () => {});
  const handed: string[] = [];
  w.on('job-handed-back', (id) => handed.push(id));
  const done = w.work();
  await waitForEvent(w, 'started', undefined, 15_000);
  const queue = new Queue(q, fx.redis);
  const all: string[] = [];
  const dropped0 = fx.proxy.stats.repliesDropped;
  let armed = 0;
  // dequeue: the first call (starts one, parks two); finish: its tail starts a parked job and parks more
  for (const script of ['dequeue', 'finish']) {
    await until(() => w.runningJobIds().length === 0 && all.every((id) => runs.has(id)), 15_000);
    fx.proxy.dropReplyTo(...sha.get(script)!);
    armed++;
    const jobs = await queue.enqueueMany(Array.from({ length: 6 }, () => ({ func: 't.ok', args: [30] })));
    all.push(...jobs.map((j) => j.id));
    await settle(fx.redis, [q], new Map(jobs.map((j) => [j.id, ['finished']])), 30_000);
    await until(() => fx.proxy.stats.repliesDropped - dropped0 === armed, 10_000);
  }
  // unpark (a warm stop hands back the parked jobs): its resend must not push them twice
  const [slow, ...rest] = await queue.enqueueMany([{ func: 't.ok', args: [1000] }, ...Array.from({ length: 3 }, () => ({ func: 't.ok', args: [1] }))]);
  await until(async () => (await fx.redis.llen(`rq:worker:${w.name}:prefetched`)) === 2, 10_000);
  fx.proxy.dropReplyTo(...sha.get('unpark')!);
  armed++;
  w.stop();
  await done;
  fx.proxy.clearDrops();
  conn.disconnect();
  assert.equal(fx.proxy.stats.repliesDropped - dropped0, armed, 'every armed reply was dropped');
  assert.deepEqual(await fx.redis.lrange(`rq:queue:${q}`, 0, -1), rest.map((j) => j.id), 'handed back once, in order');
  assert.equal(runs.get(slow!.id), 1);
  const wrong = all.filter((id) => runs.get(id) !== 1).map((id) => `${id}: ran ${runs.get(id) ?? 0} times`);
  assert.deepEqual(wrong, []);
  assert.equal(await fx.redis.exists(`rq:worker:${w.name}:prefetched`), 0);
  assert.equal(await fx.redis.zscore('rq:prefetchers', w.name), null);
  lostReplies.push('dequeue (prefetch)', 'finish (prefetch)', 'unpark');
});

test('connection cuts: connections dropped mid-command; no job lost or run twice', { timeout: 300_000 }, async () => {
  const N = SOAK ? 5000 : 600;
  const tag = uniq('cuts');
  const shared = [uniq('a'), uniq('b')];
  const privateQueues = [uniq('p1'), uniq('p2'), uniq('p3')];
  const workers = await Promise.all(
    privateQueues.map((p, i) =>
      // with prefetch 0, 1 and 3: a lost reply may have parked jobs the worker never heard of
      WorkerProc.start(fx.proxy.url, [...shared, p], { ...FAST, concurrency: 3, prefetch: [0, 1, 3][i], dequeueStrategy: i === 1 ? 'round_robin' : 'default' }, { COUNTER_URL: fx.server.url }),
    ),
  );
  const recovered: string[] = [];
  const errors: string[] = [];
  let handedBack = 0;
  for (const w of workers) {
    w.on('job-handed-back', () => handedBack++);
    w.on('job-recovered', (id: string, outcome: string) => recovered.push(`${id} ${outcome}`));
    w.on('worker-error', (...m: string[]) => errors.push(m.join(' ')));
  }

  // The producer goes through the fx.proxy too: its enqueues get cut as well.
  const producer = createRedis(fx.proxy.url);
  producer.on('error', () => {});
  const expected = new Map<string, string[]>();
  const producing = (async () => {
    for (let i = 0; i < N; i += 10) {
      const q = new Queue(shared[(i / 10) % 2]!, producer);
      const batch = Array.from({ length: 10 }, () => ({
        func: 'fixtures.work',
        args: [tag, 20 + Math.floor(Math.random() * 100)],
        retry: new Retry({ max: 3 }),
      }));
      // single enqueues and enqueueMany, both cut
      const jobs = i % 20 === 0 ? await q.enqueueMany(batch) : await Promise.all(batch.map((b) => q.enqueue(b.func, b)));
      for (const j of jobs) expected.set(j.id, ['finished']);
      await new Promise((r) => setTimeout(r, 15));
    }
  })();

  let faults = 0;
  let stop = false;
  const faulting = (async () => {
    const until = Date.now() + (SOAK ? 300_000 : 15_000);
    while (!stop && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 350));
      if (Math.random() < 0.5) {
        if (fx.proxy.cutAll() > 0) faults++;
      } else {
        fx.proxy.dropNextReplies(1 + Math.floor(Math.random() * 3));
        faults++;
      }
    }
  })();
  await producing;
  await faulting;
  stop = true;
  fx.proxy.clearDrops();
  const cutsEndedAt = Date.now();

  // No worker silently stuck: each one runs a job of its own queue now.
  const probes = await Promise.all(privateQueues.map((p) => new Queue(p, fx.redis).enqueue('fixtures.work', { args: [tag, 1] })));
  for (const p of probes) expected.set(p.id, ['finished']);
  const end = await settle(fx.redis, [...shared, ...privateQueues], expected, 60_000);
  const recoverMs = Date.now() - cutsEndedAt;

  const runs = await runsByJob(fx.redis, tag);
  let duplicated = 0;
  const bad: string[] = [];
  for (const id of expected.keys()) {
    const list = runs.get(id) ?? [];
    if (list.length === 0) bad.push(`${id} never ran`);
    if (list.length > 1) {
      duplicated += list.length - 1;
      bad.push(`${id} ran ${list.length} times`);
    }
  }
  // A queued id twice would run twice: none may be left anywhere either.
  summary('connection-cuts', {
    jobs: expected.size,
    faults,
    connections_cut: fx.proxy.stats.cut,
    replies_dropped: fx.proxy.stats.repliesDropped,
    lost: end.wrong.size,
    duplicated,
    recovered: recovered.length,
    handed_back: handedBack,
    worker_errors: errors.length,
    lost_reply_scripts: lostReplies.length,
    settle_ms: recoverMs,
  });
  producer.disconnect();
  assert.ok(faults >= 10, `only ${faults} faults`);
  assert.deepEqual([...end.wrong].slice(0, 10), [], 'jobs not finished');
  assert.ok(end.ok, `left in flight: ${JSON.stringify(end.left)}`);
  assert.deepEqual(bad.slice(0, 10), [], 'jobs lost or run twice');
  assert.deepEqual(recovered, [], 'a live worker had executions recovered as abandoned');
  for (const w of workers) assert.equal(w.exited, false, `worker ${w.name} exited:\n${w.stderr.slice(-2000)}`);
  await until(async () => (await fx.redis.hget(`rq:worker:${workers[0]!.name}`, 'state')) !== null, 5000);
  await Promise.all(workers.map((w) => w.stop()));
});
