// Chaos 4: handlers that exceed their timeout, never settle, throw values
// that are not Errors (some that cannot even be printed), or block the event
// loop. The worker process must stay alive and keep heart-beating where it
// can; each job ends as RQ says (failed with the timeout text, failed with
// the thrown value, finished); a stall longer than the dead-worker timeout
// lets another worker retry the job, and the stalled worker then drops its
// own result and goes on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Job, Queue, Retry, sendStopJob } from '../../src/index.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';
import { runsByJob, settle, statuses, summary, WorkerProc, chaosRedis } from './helpers.js';

const fx = chaosRedis();

const TIMEOUT_TEXT = /Task exceeded maximum timeout value \(1 seconds\)/;

test('slow and hung handlers: timeouts, promises that never settle, non-Error throws, a blocked event loop', { timeout: 300_000 }, async () => {
  const tag = uniq('slow');
  const qa = uniq('a');
  const qb = uniq('b');
  // A: its own queue; heartbeats every 0.5 s, abandoned after 4 s.
  const a = await WorkerProc.start(fx.server.url, [qa], { jobMonitoringInterval: 0.5, deadWorkerTimeout: 4, recoveryInterval: 0.25, concurrency: 6 });
  const qA = new Queue(qa, fx.redis);
  const expected = new Map<string, string[]>();
  const checks: [string, RegExp | null, string][] = [];
  const add = async (func: string, opts: Parameters<Queue['enqueue']>[1], status: string, exc: RegExp | null) => {
    const j = await qA.enqueue(func, opts);
    expected.set(j.id, [status]);
    checks.push([j.id, exc, `${func}(${JSON.stringify(opts?.args ?? [])})`]);
    return j;
  };
  await add('fixtures.sleep', { args: [10_000], jobTimeout: 1 }, 'failed', TIMEOUT_TEXT);
  await add('fixtures.hang', { jobTimeout: 1 }, 'failed', TIMEOUT_TEXT);
  const retried = await add('fixtures.hang', { jobTimeout: 1, retry: new Retry({ max: 1 }) }, 'failed', TIMEOUT_TEXT);
  const thrown: [string, RegExp][] = [
    ['string', /^Non-Error thrown: a plain string$/],
    ['number', /^Non-Error thrown: 42$/],
    ['null', /^Non-Error thrown: null$/],
    ['undefined', /^Non-Error thrown: undefined$/],
    ['object', /^Non-Error thrown: \{"code":"E_PLAIN","detail":\[1,2\]\}$/],
    ['circular', /^Non-Error thrown: \[object Object\]$/],
    ['no-prototype', /^Non-Error thrown: a value of type object that cannot be printed$/],
    ['symbol', /^Non-Error thrown: Symbol\(sym\)$/],
    ['rejected-undefined', /^Non-Error thrown: undefined$/],
    ['bad-error', /^Error: odd stack$/],
  ];
  for (const [kind, re] of thrown) await add('fixtures.throwValue', { args: [kind] }, 'failed', re);
  // Blocks the loop for 1.5 s: shorter than the dead-worker timeout, so nobody takes it.
  await add('fixtures.block', { args: [1500] }, 'finished', null);
  // Never settles, no timeout: heartbeats keep it alive until stop-job.
  const forever = await qA.enqueue('fixtures.hang', { jobTimeout: -1 });
  expected.set(forever.id, ['stopped']);

  let recovered = 0;
  a.on('job-recovered', () => recovered++);
  const started = () => [...a.started].length;
  await until(() => started() >= checks.length, 20_000);
  // The endless job's wip score moves on while it runs: heartbeats go on.
  const member = async () => (await fx.redis.zrange(`rq:wip:${qa}`, '0', '-1')).find((m) => m.startsWith(forever.id + ':'));
  await until(member, 10_000);
  const score0 = Number(await fx.redis.zscore(`rq:wip:${qa}`, (await member())!));
  const hb0 = await fx.redis.hget(`rq:worker:${a.name}`, 'last_heartbeat');
  await new Promise((r) => setTimeout(r, 5000)); // longer than the dead-worker timeout (pacing, not a wait for state)
  const score1 = Number(await fx.redis.zscore(`rq:wip:${qa}`, (await member())!));
  const hb1 = await fx.redis.hget(`rq:worker:${a.name}`, 'last_heartbeat');
  assert.ok(score1 > score0 + 3, `wip score ${score0} -> ${score1}`);
  assert.notEqual(hb1, hb0);
  await sendStopJob(fx.redis, forever.id);

  // B: a second worker on qb; A2 on qb blocks its loop for 10 s (> its 2 s dead-worker timeout).
  // B's process starts only once A2 has the job, and must be up and
  // recovering before A2 wakes up and records the end itself: with 5 s and
  // another test file running beside this one, a run of npm test missed it.
  const fast = { jobMonitoringInterval: 0.5, deadWorkerTimeout: 2, recoveryInterval: 0.25 };
  const a2 = await WorkerProc.start(fx.server.url, [qb], fast);
  const stalled = await new Queue(qb, fx.redis).enqueue('fixtures.blockOnce', { args: [tag, 10_000], retry: new Retry({ max: 1 }) });
  expected.set(stalled.id, ['finished']);
  await waitForEvent(a2, 'job-started', undefined, 10_000);
  const stallAt = Date.now();
  const b = new WorkerProc(fx.server.url, [qb], fast);
  // listening before it starts: its first recovery pass runs before 'started'
  const [, outcome] = await waitForEvent<[string, string]>(b, 'job-recovered', undefined, 20_000);
  const recoverMs = Date.now() - stallAt;
  recovered++;
  assert.equal(outcome, 'retried');
  const end = await settle(fx.redis, [qa, qb], expected, 30_000);

  // The stalled worker came back, dropped its stale result, and still works.
  const after = await new Queue(qb, fx.redis).enqueue('fixtures.work', { args: [tag, 1] });
  const afterA = await qA.enqueue('fixtures.work', { args: [tag, 1] });
  expected.set(after.id, ['finished']);
  expected.set(afterA.id, ['finished']);
  const end2 = await settle(fx.redis, [qa, qb], expected, 20_000);

  const wrongExc: string[] = [];
  for (const [id, re, what] of checks) {
    if (!re) continue;
    const exc = (await (await Job.fetch(fx.redis, id)).latestResult())?.excString ?? '';
    // Python-ordered traceback (issue 15): the header first, the exception line last.
    const lines = exc.trim().split('\n');
    const pythonOrder = lines[0] === 'Traceback (most recent call last):' && lines.length >= 2;
    if (!pythonOrder || !re.test(lines[lines.length - 1]!)) wrongExc.push(`${what}: ${JSON.stringify(exc.slice(0, 200))}`);
  }
  const retriedStarts = (await fx.redis.hget(`rq:job:${retried.id}`, 'retries_left')) === '0';
  const stalledRuns = (await runsByJob(fx.redis, tag)).get(stalled.id)?.length ?? 0;
  const exits = [a, a2, b].filter((w) => w.exited).length;
  summary('slow-handlers', {
    jobs: expected.size,
    faults: checks.length + 2,
    lost: end2.wrong.size,
    duplicated: stalledRuns - 1,
    '(stalled attempt only)': '',
    recovered,
    max_recover_ms: recoverMs,
    worker_exits: exits,
  });
  assert.deepEqual([...end.wrong], [], 'jobs not in their RQ end state');
  assert.deepEqual([...end2.wrong], [], 'jobs after the stall not finished');
  assert.ok(end2.ok, `left in flight: ${JSON.stringify(end2.left)}`);
  assert.deepEqual(wrongExc, [], 'failures stored without the expected text');
  assert.ok(retriedStarts, 'the hung job with a retry used it');
  assert.equal(stalledRuns, 2, 'the stalled job ran again elsewhere, once');
  assert.equal(exits, 0);
  assert.deepEqual(await statuses(fx.redis, [forever.id]), ['stopped']);
  await Promise.all([a, a2, b].map((w) => w.stop()));
});
