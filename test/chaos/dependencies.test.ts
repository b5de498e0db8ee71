// Chaos 6: dependency chains and fan-ins while the workers running the
// parents are SIGKILLed about every second. Every dependent must be released
// exactly once, and only after its parents ended (a second run only for an
// attempt on a killed worker), or end canceled when a parent failed and its
// policy says so; allow_failure dependents run after a failed parent; plain
// dependents of a failed parent stay deferred, as in RQ.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dependency, Queue, Retry } from '../../src/index.js';
import { uniq } from '../helpers/util.js';
import { checkRuns, FAST, Killer, runsByJob, settle, SOAK, summary, WorkerProc, chaosRedis } from './helpers.js';

const fx = chaosRedis();

test('dependencies under worker kills: chains and fan-ins released once or canceled per policy', { timeout: 300_000 }, async () => {
  const tag = uniq('deps');
  const queues = [uniq('d1'), uniq('d2')];
  const qs = queues.map((n) => new Queue(n, fx.redis));
  const retry = () => new Retry({ max: 8 });
  const ms = () => 300 + Math.floor(Math.random() * 400);
  const expected = new Map<string, string[]>();
  const mustFinish: string[] = [];
  const neverRun: string[] = [];

  const CHAINS = SOAK ? 40 : 12;
  const CHAIN_LEN = 8;
  const FANINS = SOAK ? 30 : 10;
  const FANIN_PARENTS = 8;
  const POLICY_GROUPS = SOAK ? 20 : 4;
  let dependents = 0;

  // Chains: each link waits for the one before it.
  for (let c = 0; c < CHAINS; c++) {
    let prev = await qs[c % 2]!.enqueue('fixtures.work', { args: [tag, ms()], retry: retry() });
    expected.set(prev.id, ['finished']);
    mustFinish.push(prev.id);
    for (let i = 1; i < CHAIN_LEN; i++) {
      const j = await qs[(c + i) % 2]!.enqueue('fixtures.child', { args: [tag, ms(), [prev.id]], retry: retry(), dependsOn: prev });
      expected.set(j.id, ['finished']);
      mustFinish.push(j.id);
      dependents++;
      prev = j;
    }
  }
  // Fan-ins: one child waits for eight parents.
  for (let f = 0; f < FANINS; f++) {
    const parents = [];
    for (let p = 0; p < FANIN_PARENTS; p++) {
      const j = await qs[p % 2]!.enqueue('fixtures.work', { args: [tag, ms()], retry: retry() });
      expected.set(j.id, ['finished']);
      mustFinish.push(j.id);
      parents.push(j.id);
    }
    const child = await qs[f % 2]!.enqueue('fixtures.child', { args: [tag, ms(), parents], retry: retry(), dependsOn: parents });
    expected.set(child.id, ['finished']);
    mustFinish.push(child.id);
    dependents++;
  }
  // Policies: fan-ins where one parent is designed to fail.
  for (let g = 0; g < POLICY_GROUPS; g++) {
    const parents = [];
    for (let p = 0; p < 3; p++) {
      const j = await qs[p % 2]!.enqueue('fixtures.work', { args: [tag, ms()], retry: retry() });
      expected.set(j.id, ['finished']);
      mustFinish.push(j.id);
      parents.push(j.id);
    }
    const doomed = await qs[g % 2]!.enqueue('fixtures.flaky', { args: [tag], retry: new Retry({ max: 1 }) });
    expected.set(doomed.id, ['failed']);
    parents.push(doomed.id);
    const tolerant = await qs[0]!.enqueue('fixtures.child', {
      args: [tag, ms(), parents, true],
      retry: retry(),
      dependsOn: new Dependency({ jobs: parents, allowFailure: true }),
    });
    expected.set(tolerant.id, ['finished']);
    mustFinish.push(tolerant.id);
    const canceled = await qs[1]!.enqueue('fixtures.child', {
      args: [tag, ms(), parents],
      dependsOn: new Dependency({ jobs: parents, cancelOnFailure: true }),
    });
    const grandchild = await qs[0]!.enqueue('fixtures.child', {
      args: [tag, ms(), [canceled.id]],
      dependsOn: new Dependency({ jobs: [canceled.id], cancelOnFailure: true }),
    });
    const waiting = await qs[1]!.enqueue('fixtures.child', { args: [tag, ms(), parents], dependsOn: parents });
    expected.set(canceled.id, ['canceled']);
    expected.set(grandchild.id, ['canceled']);
    expected.set(waiting.id, ['deferred']);
    neverRun.push(canceled.id, grandchild.id, waiting.id);
    dependents += 4;
  }

  const startWorker = () => WorkerProc.start(fx.server.url, queues, { ...FAST, concurrency: 3 });
  const workers = await Promise.all([0, 1, 2].map(startWorker));
  const killer = new Killer(fx.redis, workers, startWorker);
  killer.start([600, 1200], SOAK ? 600_000 : 60_000);
  const t0 = Date.now();
  const end = await settle(fx.redis, queues, expected, SOAK ? 900_000 : 120_000);
  await killer.stop();
  const settleMs = Date.now() - t0;

  const runs = await runsByJob(fx.redis, tag);
  const { duplicated, unexpected } = checkRuns(mustFinish, runs, killer.killedAttempts);
  for (const id of neverRun) if (runs.has(id)) unexpected.push(`${id}: ran, though canceled or waiting per its policy`);
  // A dependent must have started only after its parents ended (the task checks when it starts).
  const early = await fx.redis.hgetall(`chaos:${tag}:early`);
  // And each one sits in one place: not in a queue or the deferred registry once it finished.
  let misplaced = 0;
  for (const [id, [st]] of expected) {
    const q = await fx.redis.hget(`rq:job:${id}`, 'origin');
    const inDeferred = (await fx.redis.zscore(`rq:deferred:${q}`, id)) !== null;
    if ((st === 'deferred') !== inDeferred) misplaced++;
  }
  const { killedExecutions, recovered, maxRecoverMs } = killer.recovery();
  summary('dependencies', {
    jobs: expected.size,
    dependents,
    faults: killer.kills.length,
    lost: end.wrong.size,
    duplicated,
    '(killed attempts only)': '',
    released_early: Object.keys(early).length,
    recovered,
    killed_executions: killedExecutions,
    max_recover_ms: maxRecoverMs,
    settle_ms: settleMs,
  });
  assert.ok(killer.kills.length >= 3, `only ${killer.kills.length} kills`);
  assert.deepEqual([...end.wrong].slice(0, 10), [], 'jobs not in their expected end state');
  assert.ok(end.ok, `left in flight: ${JSON.stringify(end.left)}`);
  assert.deepEqual(unexpected.slice(0, 10), [], 'runs not explained by a kill');
  assert.deepEqual(early, {}, 'dependents that started before their parents ended');
  assert.equal(misplaced, 0, 'jobs in the wrong registry');
});
