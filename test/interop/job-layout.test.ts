// (f) Field by field: a job enqueued by our API and the same job enqueued by
// Python RQ 1.13 (JSONSerializer; same args, different ids) must store the
// same hash fields with identical encodings: data (after zlib inflate, the
// JSON text byte for byte), description, timeout, status, origin, meta and
// every option field. Timestamps must have RQ's utcformat. The only fields
// allowed to differ are the RQ 2.x fields that 1.13 does not know (we write
// the 2.10 field set; see docs/design.md, compatibility limits).
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { Dependency, type EnqueueOptions, type Job, Queue, Retry } from '../../src/index.js';
import { uniq } from '../helpers/util.js';
import { py1, interopRedis } from './helpers.js';

/** Fields RQ 2.x writes on every job and 1.13 does not; we write them as 2.10 does, empty. */
const RQ2_ONLY = new Map([
  ['stopped_callback_name', ''],
  ['group_id', ''],
]);
const TIMESTAMPS = new Set(['created_at', 'enqueued_at']);
const UTCFORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('job hash layout: our enqueue vs Python RQ 1.13 enqueue', () => {
  const fx = interopRedis();

  async function hash(id: string): Promise<Map<string, Buffer>> {
    return new Map(Object.entries(await fx.redis.hgetallBuffer(`rq:job:${id}`)));
  }

  /** Where an id sits: the queue list, or a registry of q. */
  async function placement(q: string, id: string): Promise<string[]> {
    const out: string[] = [];
    if ((await fx.redis.lrange(`rq:queue:${q}`, 0, -1)).includes(id)) out.push('queue');
    for (const r of ['deferred', 'scheduled', 'wip', 'finished', 'failed', 'canceled']) {
      if ((await fx.redis.zscore(`rq:${r}:${q}`, id)) !== null) out.push(r);
    }
    return out;
  }

  /**
   * Python enqueues `pyCmd`, we enqueue via `ts`; asserts the two hashes match
   * and returns both for extra checks.
   */
  async function compare(pyCmd: Record<string, unknown>, ts: (queue: Queue) => Promise<Job>) {
    const q = uniq('layq');
    const queue = new Queue(q, fx.redis);
    const pyJob = await py1<{ id: string }>(fx.url, { op: 'enqueue', queue: q, ...pyCmd });
    const tsJob = await ts(queue);
    const ph = await hash(pyJob.id);
    const th = await hash(tsJob.id);
    assert.ok(ph.size > 0 && th.size > 0);

    const pyFields = [...ph.keys()].sort();
    const tsFields = [...th.keys()].filter((k) => !RQ2_ONLY.has(k)).sort();
    assert.deepEqual(tsFields, pyFields, 'the same set of hash fields (besides the RQ 2.x-only ones)');
    for (const [k, v] of RQ2_ONLY) assert.equal(th.get(k)?.toString(), v, `RQ 2.x field ${k}`);

    const pyData = ph.get('data')!;
    const tsData = th.get('data')!;
    // A zlib stream (Python writes level 6, 78 9c; small payloads of ours are
    // stored blocks, 78 01): any zlib reader, Python's included, takes both.
    assert.equal(tsData[0], 0x78, 'a zlib stream');
    assert.equal(tsData.readUInt16BE(0) % 31, 0, 'a valid zlib header');
    const pyText = inflateSync(pyData).toString('utf8');
    const tsText = inflateSync(tsData).toString('utf8');
    assert.equal(tsText, pyText, 'data: byte-identical JSON after inflate');

    for (const k of pyFields) {
      if (k === 'data') continue;
      const pv = ph.get(k)!.toString('utf8');
      const tv = th.get(k)!.toString('utf8');
      if (TIMESTAMPS.has(k)) {
        assert.match(pv, UTCFORMAT, `python ${k}`);
        assert.match(tv, UTCFORMAT, `our ${k}`);
      } else {
        assert.equal(tv, pv, `field ${k}`);
      }
    }

    const [pyTtl, tsTtl] = [await fx.redis.ttl(`rq:job:${pyJob.id}`), await fx.redis.ttl(`rq:job:${tsJob.id}`)];
    assert.ok(pyTtl === tsTtl || (pyTtl > 0 && Math.abs(pyTtl - tsTtl) <= 2), `key TTL: python ${pyTtl}, ours ${tsTtl}`);
    assert.deepEqual(await placement(q, tsJob.id), await placement(q, pyJob.id), 'same queue/registry');
    assert.ok((await fx.redis.sismember('rq:queues', `rq:queue:${q}`)) === 1);
    return { q, pyId: pyJob.id, tsId: tsJob.id, ph, th, pyText };
  }

  const enqueue = (func: string, opts: EnqueueOptions) => (queue: Queue) => queue.enqueue(func, opts);

  test("tasks.add(2, 3): data is Python's [\"tasks.add\", null, [2, 3], {}]", async () => {
    const { ph, th, pyText } = await compare({ func: 'tasks.add', args: [2, 3] }, enqueue('tasks.add', { args: [2, 3] }));
    assert.equal(pyText, '["tasks.add", null, [2, 3], {}]');
    assert.equal(th.get('description')!.toString(), 'tasks.add(2, 3)');
    assert.equal(th.get('timeout')!.toString(), '180');
    assert.equal(th.get('status')!.toString(), 'queued');
    assert.equal(ph.get('status')!.toString(), 'queued');
    assert.equal(th.has('meta'), false, 'empty meta is not written');
  });

  test('kwargs, nesting, None/True, quotes and non-ASCII text', async () => {
    const args = [[1, 'two', null, true, false], { k: 'v', n: [1.5, -2] }];
    const kwargs = { z: 1.5, a: 'é', name: `it's "wörld" \\ tab\tnl\n`, empty: {} };
    const { pyText, th } = await compare({ func: 'tasks.hello', args, kwargs }, enqueue('tasks.hello', { args, kwargs }));
    assert.ok(pyText.includes('"a": "\\u00e9"'), 'ensure_ascii escapes');
    assert.match(th.get('description')!.toString(), /, a='é', empty=\{\}, name=.*, z=1\.5\)$/, 'kwargs sorted in the description');
  });

  test('options: description, meta, result_ttl, failure_ttl, ttl, job_timeout "1h", Retry(max=2, interval=[0, 5])', async () => {
    const meta = { owner: 'ts', nested: { list: [1, 'x'] }, ü: true };
    const { th, tsId } = await compare(
      {
        func: 'tasks.add',
        args: [2, 3],
        description: 'add two',
        meta,
        result_ttl: 600,
        failure_ttl: 3600,
        ttl: 1000,
        job_timeout: '1h',
        retry: { max: 2, interval: [0, 5] },
      },
      enqueue('tasks.add', {
        args: [2, 3],
        description: 'add two',
        meta,
        resultTtl: 600,
        failureTtl: 3600,
        ttl: 1000,
        jobTimeout: '1h',
        retry: new Retry({ max: 2, interval: [0, 5] }),
      }),
    );
    assert.equal(th.get('meta')!.toString(), '{"owner": "ts", "nested": {"list": [1, "x"]}, "\\u00fc": true}');
    assert.equal(th.get('timeout')!.toString(), '3600');
    assert.equal(th.get('retry_intervals')!.toString(), '[0, 5]');
    const ttl = await fx.redis.ttl(`rq:job:${tsId}`);
    assert.ok(ttl > 990 && ttl <= 1000, `ttl ${ttl}`);
  });

  test('Dependency(jobs=[parent], allow_failure=True) on a queued parent: deferred, same fields and sets', async () => {
    const parentQ = new Queue(uniq('layparent'), fx.redis);
    const parent = await parentQ.enqueue('tasks.add', { args: [1, 1] });
    const { q, pyId, tsId, th } = await compare(
      { func: 'tasks.add', args: [2, 3], dependency: { jobs: [parent.id], allow_failure: true } },
      enqueue('tasks.add', { args: [2, 3], dependsOn: new Dependency({ jobs: [parent.id], allowFailure: true }) }),
    );
    assert.equal(th.get('status')!.toString(), 'deferred');
    assert.equal(th.get('allow_dependency_failures')!.toString(), '1');
    assert.equal(th.get('dependency_ids')!.toString(), `["${parent.id}"]`);
    assert.deepEqual((await fx.redis.smembers(`rq:job:${parent.id}:dependents`)).sort(), [pyId, tsId].sort());
    assert.deepEqual(await fx.redis.smembers(`rq:job::${tsId}:dependencies`), [parent.id]);
    assert.deepEqual(await fx.redis.smembers(`rq:job::${pyId}:dependencies`), [parent.id]);
    assert.deepEqual((await fx.redis.zrange(`rq:deferred:${q}`, '0', '-1')).sort(), [pyId, tsId].sort());
  });

  test(
    'depends_on=<plain id>: RQ writes no allow_dependency_failures / enqueue_at_front',
    async () => {
      const parent = await new Queue(uniq('layparent'), fx.redis).enqueue('tasks.add', { args: [1, 1] });
      await compare(
        { func: 'tasks.add', args: [2, 3], depends_on: [parent.id] },
        enqueue('tasks.add', { args: [2, 3], dependsOn: parent.id }),
      );
    },
  );

  test('enqueue_in(60 s) vs enqueueIn(60): scheduled, no enqueued_at; our score is float seconds, Python floors', async () => {
    const { q, pyId, tsId, th } = await compare(
      { func: 'tasks.add', args: [2, 3], enqueue_in: 60 },
      (queue) => queue.enqueueIn(60, 'tasks.add', { args: [2, 3] }),
    );
    assert.equal(th.get('status')!.toString(), 'scheduled');
    assert.equal(th.has('enqueued_at'), false);
    const pyScore = Number(await fx.redis.zscore(`rq:scheduled:${q}`, pyId));
    const tsScore = Number(await fx.redis.zscore(`rq:scheduled:${q}`, tsId));
    assert.ok(Number.isInteger(pyScore));
    assert.ok(tsScore - pyScore >= 0 && tsScore - pyScore < 2, `python ${pyScore}, ours ${tsScore}`);
  });

  test(
    'floats Python writes in exponent form: 0.00001 and 1.5e-07',
    async () => {
      await compare({ func: 'tasks.add', args: [0.00001, 1.5e-7] }, enqueue('tasks.add', { args: [0.00001, 1.5e-7] }));
    },
  );

  test(
    'description of a string with a control character (repr escapes it)',
    async () => {
      await compare({ func: 'tasks.hello', kwargs: { name: 'a\u0001b' } }, enqueue('tasks.hello', { kwargs: { name: 'a\u0001b' } }));
    },
  );
});
