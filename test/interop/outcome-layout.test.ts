// The same jobs (enqueued by Python) run once by a Python RQ 1.13 worker and
// once by our worker: the state each leaves must match where RQ's rules
// decide it: statuses, key TTLs (result_ttl / failure_ttl), results streams
// and their TTLs, registry membership and scores (now + ttl, +inf for -1).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/index.js';
import { testRedis } from '../helpers/redis.js';
import { uniq } from '../helpers/util.js';
import { killAllPy, loadTasks, py, startRqWorker, tsWorker } from './helpers.js';

interface Spec {
  label: string;
  cmd: Record<string, unknown>;
}

const SPECS: Spec[] = [
  { label: 'add, defaults', cmd: { func: 'tasks.add', args: [2, 3] } },
  { label: 'add, result_ttl=-1', cmd: { func: 'tasks.add', args: [2, 3], result_ttl: -1 } },
  { label: 'add, result_ttl=0', cmd: { func: 'tasks.add', args: [2, 3], result_ttl: 0 } },
  { label: 'add, result_ttl=77', cmd: { func: 'tasks.add', args: [2, 3], result_ttl: 77 } },
  { label: 'boom, failure_ttl=100', cmd: { func: 'tasks.boom', failure_ttl: 100 } },
  { label: 'boom, failure_ttl=-1', cmd: { func: 'tasks.boom', failure_ttl: -1 } },
  { label: 'boom, defaults', cmd: { func: 'tasks.boom' } },
];

interface Outcome {
  exists: boolean;
  status: string | null;
  keyTtl: number;
  results: number;
  resultsTtl: number;
  /** registry -> score relative to now (Infinity for +inf, the raw score when negative). */
  registries: Record<string, number>;
}

/** TTLs and relative scores agree: both negative and equal, or within 3 s (the runs are not simultaneous). */
function close3(a: number, b: number): boolean {
  if (a < 0 || b < 0 || !Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= 3;
}

describe('after execution: Python 1.13 worker vs our worker, same jobs', () => {
  let url: string;
  let close: () => Promise<void>;
  let redis: Redis;
  const outcomes: Record<'py' | 'ts', Outcome[]> = { py: [], ts: [] };

  before(async () => {
    ({ url, close } = await testRedis());
    redis = createRedis(url);
    const qPy = uniq('outpy');
    const qTs = uniq('outts');
    const enq = await py<{ id: string }>(url, [
      ...SPECS.map((s) => ({ op: 'enqueue', queue: qPy, ...s.cmd })),
      ...SPECS.map((s) => ({ op: 'enqueue', queue: qTs, ...s.cmd })),
    ]);
    const w = startRqWorker(url, [qPy], ['--burst']);
    const ts = tsWorker(redis, await loadTasks(), [qTs], { burst: true });
    const [code] = await Promise.all([w.exited, ts.work()]);
    assert.equal(code, 0, w.output());
    const [now] = (await redis.time()).map(Number) as [number];
    for (const [side, q, ids] of [
      ['py', qPy, enq.slice(0, SPECS.length).map((e) => e.id)],
      ['ts', qTs, enq.slice(SPECS.length).map((e) => e.id)],
    ] as const) {
      for (const id of ids) {
        const registries: Record<string, number> = {};
        for (const r of ['finished', 'failed', 'wip', 'deferred', 'scheduled']) {
          const score = await redis.zscore(`rq:${r}:${q}`, id);
          if (score !== null) registries[r] = score === 'inf' ? Infinity : Number(score) < 0 ? Number(score) : Number(score) - now;
        }
        outcomes[side].push({
          exists: (await redis.exists(`rq:job:${id}`)) === 1,
          status: await redis.hget(`rq:job:${id}`, 'status'),
          keyTtl: await redis.ttl(`rq:job:${id}`),
          results: await redis.xlen(`rq:results:${id}`),
          resultsTtl: await redis.ttl(`rq:results:${id}`),
          registries,
        });
      }
    }
  });
  after(async () => {
    await killAllPy();
    redis.disconnect();
    await close();
  });

  SPECS.forEach((spec, i) => {
    // One deliberate difference: RQ gives the results stream of a job failed
    // without failure_ttl no TTL at all (it lives forever); ours expires with
    // the job, after the default failure_ttl of one year.
    const unboundedInRq = spec.label === 'boom, defaults';
    test(`${spec.label}: same status, TTLs, results and registries`, () => {
      const p = outcomes.py[i]!;
      const t = outcomes.ts[i]!;
      assert.equal(t.exists, p.exists, 'job hash exists');
      assert.equal(t.status, p.status, 'status');
      assert.ok(close3(t.keyTtl, p.keyTtl), `job key TTL: python ${p.keyTtl}, ours ${t.keyTtl}`);
      assert.equal(t.results, p.results, 'entries in rq:results');
      if (unboundedInRq) {
        assert.equal(p.resultsTtl, -1);
        assert.ok(close3(t.resultsTtl, 31536000), `results TTL ${t.resultsTtl}`);
      } else {
        assert.ok(close3(t.resultsTtl, p.resultsTtl), `results TTL: python ${p.resultsTtl}, ours ${t.resultsTtl}`);
      }
      assert.deepEqual(Object.keys(t.registries).sort(), Object.keys(p.registries).sort(), 'registries');
      for (const [r, score] of Object.entries(p.registries)) {
        assert.ok(close3(t.registries[r]!, score), `${r} score: python now+${score}, ours now+${t.registries[r]}`);
      }
    });
  });
});
