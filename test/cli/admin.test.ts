// enqueue, requeue, empty, suspend, resume: the real binary against a Redis of the file's own.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { Job, keys, Queue } from '../../src/index.js';
import { uniq } from '../helpers/util.js';
import { run, runMany, tempDir, cliRedis } from './helpers.js';

const ENQUEUED = /^Enqueued (.*) with job-id '([A-Za-z0-9_-]+)'\.\n$/;

describe('admin commands', () => {
  const tmp = tempDir({ 'payload.json': '{"from": "file"}', 'note.txt': 'text from a file' });
  const fx = cliRedis(() => tmp.remove());

  async function data(id: string): Promise<unknown> {
    return JSON.parse(inflateSync((await fx.redis.hgetBuffer(keys.job(id), 'data'))!).toString());
  }

  test("enqueue: rq's argument syntax, its confirmation line, a JSON job", async () => {
    const q = uniq('enq');
    const r = await run(['enqueue', '-q', q, '-u', fx.url, 'tasks.add', '3', ':4', 'y=5', 'z:=[1, 2]', '%(1, True, None)', 'w%={"k": 2.5}', `:@${tmp.path('payload.json')}`, `f=@${tmp.path('note.txt')}`]);
    assert.equal(r.code, 0, r.stderr);
    const m = ENQUEUED.exec(r.stdout);
    assert.ok(m, r.stdout);
    // @file values are shown by name, never by contents (they may be secrets; issue 16).
    assert.equal(m[1], `tasks.add('3', 4, [1, True, None], @${tmp.path('payload.json')}, f=@${tmp.path('note.txt')}, w={'k': 2.5}, y='5', z=[1, 2])`);
    const id = m[2]!;
    assert.deepEqual(await data(id), ['tasks.add', null, ['3', 4, [1, true, null], { from: 'file' }], { y: '5', z: [1, 2], w: { k: 2.5 }, f: 'text from a file' }]);
    const h = await fx.redis.hgetall(keys.job(id));
    assert.equal(h.status, 'queued');
    assert.equal(h.origin, q);
    assert.equal(h.description, m[1]);
    assert.equal(h.timeout, '180');
    assert.deepEqual(await fx.redis.lrange(keys.queue(q), 0, -1), [id]);
  });

  test('enqueue: options', async () => {
    const q = uniq('opt');
    await new Queue(q, fx.redis).enqueue('tasks.add', { args: [0, 0], jobId: 'first-in-line' });
    let r = await run([
      'enqueue', 'tasks.hello', 'name=x', '--queue', q, '--timeout', '5m', '--result-ttl', '600', '--ttl', '100', '--failure-ttl', '1h',
      '--description', 'say hello', '--job-id', 'job-opts', '--at-front', '--retry-max', '2', '--retry-interval', '5', '--retry-interval', '10', '-u', fx.url,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Enqueued tasks.hello(name='x') with job-id 'job-opts'.\n");
    const h = await fx.redis.hgetall(keys.job('job-opts'));
    assert.equal(h.timeout, '300');
    assert.equal(h.result_ttl, '600');
    assert.equal(h.ttl, '100');
    assert.equal(h.failure_ttl, '3600');
    assert.equal(h.description, 'say hello');
    assert.equal(h.retries_left, '2');
    assert.equal(h.retry_intervals, '[5, 10]');
    assert.deepEqual(await fx.redis.lrange(keys.queue(q), 0, -1), ['job-opts', 'first-in-line']);

    r = await run(['enqueue', 'tasks.add', '--queue', q, '--depends-on', 'job-opts', '--job-id', 'job-dep', '--quiet', '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(await fx.redis.hget(keys.job('job-dep'), 'status'), 'deferred');

    const before = Date.now() / 1000;
    r = await run(['enqueue', 'tasks.add', '--queue', q, '--schedule-in', '2m', '--job-id', 'job-in', '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    const score = Number(await fx.redis.zscore(keys.registry('scheduled', q), 'job-in'));
    assert.ok(score >= before + 119 && score <= Date.now() / 1000 + 121, String(score));

    r = await run(['enqueue', 'tasks.add', '--queue', q, '--schedule-at', '2030-05-27T21:45:00', '--job-id', 'job-at', '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    // Without a zone: local time, as rq.
    assert.equal(Number(await fx.redis.zscore(keys.registry('scheduled', q), 'job-at')), new Date(2030, 4, 27, 21, 45, 0).getTime() / 1000);
  });

  test('enqueue: bad arguments are one line and exit 1', async () => {
    const cases = [
      ['tasks.add', ':{not json'],
      ['tasks.add', 'k:=[1,'],
      ['tasks.add', 'a=1', 'a=2'],
      ['tasks.add', `@${tmp.path('missing.txt')}`],
      ['tasks.add', '%{1, 2}'],
      ['tasks.add', '--schedule-in', '5m', '--schedule-at', '2030-01-01T00:00:00'],
      ['tasks.add', '--schedule-at', 'tomorrow'],
      ['tasks.add', '--timeout', 'forever'],
      ['tasks.add', '--job-id', 'no:colons'],
      ['tasks.add', '--queue', 'bad queue'],
      ['tasks.add', '--retry-max', 'x'],
    ];
    const results = await runMany(cases.map((args) => ['enqueue', ...args, '-u', fx.url]));
    for (const [i, args] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /);
    }
  });

  test('requeue: failed jobs back on their queue; unknown and expired ids reported and skipped', async () => {
    const q = uniq('req');
    const queue = new Queue(q, fx.redis);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const j = await queue.enqueue('tasks.boom', { jobId: `${q}-f${i}` });
      ids.push(j.id);
    }
    // As a worker fails them: out of the queue, into the failed registry.
    await fx.redis.del(keys.queue(q));
    const now = Math.floor(Date.now() / 1000);
    for (const id of ids) {
      await fx.redis.hset(keys.job(id), 'status', 'failed', 'ended_at', '2026-01-01T00:00:00.000000Z');
      await fx.redis.zadd(keys.registry('failed', q), now + 3600, id);
    }
    await fx.redis.del(keys.job(ids[3]!)); // expired: in the registry, hash gone
    let r = await run(['requeue', '--queue', q, ids[0]!, 'no-such-id', ids[3]!, '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Requeueing 3 jobs from failed queue\nUnable to requeue 2 jobs from failed job registry\n');
    assert.match(r.stderr, /no-such-id: not in the failed job registry/);
    assert.match(r.stderr, new RegExp(`${ids[3]}: no such job`));
    assert.equal(await fx.redis.hget(keys.job(ids[0]!), 'status'), 'queued');
    assert.deepEqual(await fx.redis.lrange(keys.queue(q), 0, -1), [ids[0]]);

    r = await run(['requeue', '--queue', q, '--all', '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Requeueing 3 jobs from failed queue\n/);
    assert.deepEqual((await fx.redis.lrange(keys.queue(q), 0, -1)).sort(), ids.slice(0, 3).sort());

    r = await run(['requeue', '--queue', q, '-u', fx.url]);
    assert.equal(r.stdout, 'Nothing to do\n');
    r = await run(['requeue', ids[0]!, '-u', fx.url]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: required option '--queue <name>' not specified\n$/);
  });

  test('empty: queues or --all', async () => {
    const q1 = uniq('em1');
    const q2 = uniq('em2');
    await new Queue(q1, fx.redis).enqueueMany([{ func: 'tasks.add' }, { func: 'tasks.add' }]);
    const j2 = await new Queue(q2, fx.redis).enqueue('tasks.add');
    let r = await run(['empty', q1, '-u', fx.url]);
    assert.equal(r.stdout, `2 jobs removed from ${q1} queue\n`);
    assert.equal(await fx.redis.llen(keys.queue(q1)), 0);
    assert.ok(await Job.fetchOrNull(fx.redis, j2.id));
    r = await run(['empty', '--all', '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^1 jobs removed from ${q2} queue$`, 'm'));
    assert.equal(await Job.fetchOrNull(fx.redis, j2.id), null);
    r = await run(['empty', '-u', fx.url]);
    assert.equal(r.stdout, 'Nothing to do\n');
  });

  test('suspend [--duration] and resume', async () => {
    let r = await run(['suspend', '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Suspending workers.  No new jobs will be started.  But current jobs will be completed\n');
    assert.equal(await fx.redis.get(keys.suspended), '1');
    assert.equal(await fx.redis.ttl(keys.suspended), -1);
    r = await run(['resume', '-u', fx.url]);
    assert.equal(r.stdout, 'Resuming workers.\n');
    assert.equal(await fx.redis.exists(keys.suspended), 0);
    r = await run(['suspend', '--duration', '30', '-u', fx.url]);
    assert.match(r.stdout, /^Suspending workers for 30 seconds\./);
    const ttl = await fx.redis.ttl(keys.suspended);
    assert.ok(ttl > 25 && ttl <= 30, String(ttl));
    r = await run(['suspend', '--duration', '0', '-u', fx.url]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: Duration must be an integer greater than 1\n');
    await run(['resume', '-u', fx.url]);
  });

  test('the URL comes from RQ_REDIS_URL, then REDIS_URL, and -u wins', async () => {
    const bad = 'redis://127.0.0.1:1';
    let r = await run(['resume'], { env: { RQ_REDIS_URL: fx.url, REDIS_URL: bad } });
    assert.equal(r.code, 0, r.stderr);
    r = await run(['resume'], { env: { REDIS_URL: fx.url } });
    assert.equal(r.code, 0, r.stderr);
    r = await run(['resume', '-u', fx.url], { env: { RQ_REDIS_URL: bad } });
    assert.equal(r.code, 0, r.stderr);
    r = await run(['resume'], { env: { RQ_REDIS_URL: bad } });
    assert.equal(r.code, 1);
  });
});
