// Chaos 2b: Redis unreachable for 30 s (a TCP proxy refuses and cuts every
// connection; Redis itself keeps running, as in a network partition) while
// jobs run, finish, and a producer enqueues. Nobody died: when the network
// comes back, no running job may be taken for abandoned, none may run twice,
// and every acknowledged job finishes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRedis, Queue, Retry } from '../../src/index.js';
import { uniq, until } from '../helpers/util.js';
import { FAST, runsByJob, settle, summary, WorkerProc, exactlyOnce, chaosRedis } from './helpers.js';

const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_MS ?? 30_000);

const fx = chaosRedis({ persistent: true, proxy: true });

test(`Redis unreachable for ${OUTAGE_MS / 1000} s while jobs run`, { timeout: 300_000 }, async () => {
  const tag = uniq('outage');
  const queues = [uniq('a'), uniq('b')];
  const workers = await Promise.all(
    [0, 1, 2].map(() => WorkerProc.start(fx.proxy.url, queues, { ...FAST, concurrency: 4 }, { COUNTER_URL: fx.server.url })),
  );
  const recovered: string[] = [];
  let handedBack = 0;
  for (const w of workers) {
    w.on('job-recovered', (id: string, outcome: string) => recovered.push(`${id} ${outcome}`));
    w.on('job-handed-back', () => handedBack++);
  }
  const producer = createRedis(fx.proxy.url);
  producer.on('error', () => {});
  const expected = new Map<string, string[]>();
  const enqueue = async (n: number, ms: () => number) => {
    const jobs = await new Queue(queues[expected.size % 2]!, producer).enqueueMany(
      Array.from({ length: n }, () => ({ func: 'fixtures.work', args: [tag, ms()], retry: new Retry({ max: 2 }) })),
    );
    for (const j of jobs) expected.set(j.id, ['finished']);
  };

  // Running when the network goes: some end during the outage, some after it.
  // 12 slots (3 workers x 4), all busy; 12 more jobs wait in the queues.
  await enqueue(12, () => 1000 + Math.floor(Math.random() * (OUTAGE_MS + 2000)));
  await until(async () => (await fx.redis.zcard(`rq:wip:${queues[0]}`)) + (await fx.redis.zcard(`rq:wip:${queues[1]}`)) >= 12, 15_000);
  await enqueue(12, () => 200);
  fx.proxy.refuse(true);
  const downAt = Date.now();
  const samples: string[] = [];
  const sampler = process.env.CHAOS_DEBUG
    ? setInterval(() => void fx.redis.hgetall('rq:liveness').then((h) => samples.push(`${new Date().toISOString()} ${JSON.stringify(h)}`)), 250)
    : undefined;
  // Enqueued during the outage: the producer holds the call until it can send it.
  const during = enqueue(20, () => 100);
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  fx.proxy.refuse(false);
  const upAt = Date.now();
  await during;
  await enqueue(40, () => 100);
  const end = await settle(fx.redis, queues, expected, 60_000);
  const settleMs = Date.now() - upAt;

  const runs = await runsByJob(fx.redis, tag);
  const { bad, duplicated } = exactlyOnce(expected.keys(), runs);
  summary('redis-unreachable', {
    jobs: expected.size,
    outage_ms: upAt - downAt,
    faults: 1,
    lost: end.wrong.size,
    duplicated,
    recovered: recovered.length,
    handed_back: handedBack,
    settle_ms: settleMs,
  });
  producer.disconnect();
  clearInterval(sampler);
  if (process.env.CHAOS_DEBUG) console.log(samples.join('\n'));
  if (process.env.CHAOS_DEBUG) for (const w of workers) console.log(`--- ${w.name}\n${w.stderr}`), console.log(`down ${new Date(downAt).toISOString()} up ${new Date(upAt).toISOString()}`);
  assert.deepEqual([...end.wrong].slice(0, 10), [], 'jobs not finished');
  assert.ok(end.ok, `left in flight: ${JSON.stringify(end.left)}`);
  assert.deepEqual(bad.slice(0, 10), [], 'jobs lost or run twice');
  assert.deepEqual(recovered, [], 'executions of live workers recovered as abandoned');
  for (const w of workers) assert.equal(w.exited, false, `a worker exited:\n${w.stderr.slice(-2000)}`);
  await Promise.all(workers.map((w) => w.stop()));
});
