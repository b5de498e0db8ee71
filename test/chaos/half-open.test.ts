// Chaos 2d: half-open connections. Every connection of the workers stops
// carrying data but stays open (no FIN, no RST: the peer vanished behind a
// NAT, a VM was migrated), while jobs run and a producer enqueues on a
// connection of its own. The kernel would keep such a socket for minutes
// (writes pending) or forever (idle). Each worker must notice that Redis no
// longer answers, reconnect, record the jobs that ended meanwhile and take
// the new ones: none lost, none run twice, none taken for abandoned.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Retry } from '../../src/index.js';
import { keys } from '../../src/engine/keys.js';
import { uniq, until } from '../helpers/util.js';
import { FAST, runsByJob, settle, summary, WorkerProc, exactlyOnce, chaosRedis } from './helpers.js';

const fx = chaosRedis({ proxy: true });

test('half-open connections: workers notice, reconnect and go on', { timeout: 120_000 }, async () => {
  const tag = uniq('halfopen');
  const queue = uniq('h');
  const workers = await Promise.all(
    [0, 1].map(() => WorkerProc.start(fx.proxy.url, [queue], { ...FAST, concurrency: 3 }, { COUNTER_URL: fx.server.url })),
  );
  const recovered: string[] = [];
  for (const w of workers) w.on('job-recovered', (id: string, outcome: string) => recovered.push(`${id} ${outcome}`));
  const expected = new Map<string, string[]>();
  const enqueue = async (n: number, ms: number) => {
    const jobs = await new Queue(queue, fx.redis).enqueueMany(
      Array.from({ length: n }, () => ({ func: 'fixtures.work', args: [tag, ms], retry: new Retry({ max: 2 }) })),
    );
    for (const j of jobs) expected.set(j.id, ['finished']);
    return jobs.map((j) => j.id);
  };

  // Six running when the connections freeze (they end during it), six waiting.
  await enqueue(6, 1500);
  await until(async () => (await fx.redis.zcard(keys.registry('wip', queue))) >= 6, 15_000);
  await enqueue(6, 100);
  const accepted = fx.proxy.stats.accepted;
  const frozen = fx.proxy.freezeAll();
  const frozenAt = Date.now();
  // The producer's own connection still works; its wake-up publish reaches
  // no worker (their subscriptions are frozen too).
  const later = await enqueue(20, 100);
  await until(async () => (await fx.redis.zmscore(keys.registry('finished', queue), ...later)).some((s) => s !== null), 60_000, 50);
  const resumeMs = Date.now() - frozenAt;
  const end = await settle(fx.redis, [queue], expected, 60_000);

  const runs = await runsByJob(fx.redis, tag);
  const { bad, duplicated } = exactlyOnce(expected.keys(), runs);
  summary('half-open', {
    jobs: expected.size,
    frozen_connections: frozen,
    reconnects: fx.proxy.stats.accepted - accepted,
    lost: end.wrong.size,
    duplicated,
    recovered: recovered.length,
    resume_ms: resumeMs,
  });
  assert.deepEqual([...end.wrong].slice(0, 10), [], 'jobs not finished');
  assert.ok(end.ok, `left in flight: ${JSON.stringify(end.left)}`);
  assert.deepEqual(bad.slice(0, 10), [], 'jobs lost or run twice');
  assert.deepEqual(recovered, [], 'executions of live workers recovered as abandoned');
  for (const w of workers) {
    assert.equal(w.exited, false, `a worker exited:\n${w.stderr.slice(-2000)}`);
    assert.match(w.stderr, /Redis has not answered for/, 'the worker said why it reconnected');
  }
  await Promise.all(workers.map((w) => w.stop()));
});
