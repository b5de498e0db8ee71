// The results stream (rq:results:<id>) is written as RQ writes it and kept
// at its size: a new stream is built in a scratch key and COPYed to its own
// (lua/include/results.lua).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue, Job, Repeat, keys } from '../../src/index.js';
import { createRedis } from '../../src/engine/connection.js';
import { silentLogger } from '../../src/engine/logger.js';
import { Worker } from '../../src/engine/worker/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { RedisServer } from '../helpers/redis.js';
import { uniq } from '../helpers/util.js';

const fx = engineFixture();

// A one-result stream as XADD leaves it takes its whole 4 KiB node (4.7 KB
// in MEMORY USAGE); copied, under 1 KB with a return value, 1.3 KB with a traceback.
const COMPACT = 2048;

test("a finished job's results stream holds its one result at its size, with the job's result_ttl", async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.ok', { args: [21], resultTtl: 300 });
  const w = fx.worker([name], tasks({ 't.ok': (n: number) => ({ doubled: n * 2 }) }), { burst: true });
  await w.done;
  const key = keys.results(job.id);
  const bytes = Number(await fx.redis.memory('USAGE', key));
  assert.ok(bytes > 0 && bytes < COMPACT, `results stream takes ${bytes} bytes`);
  const ttl = await fx.redis.ttl(key);
  assert.ok(ttl > 290 && ttl <= 300, `ttl ${ttl}`);
  assert.equal(await fx.redis.xlen(key), 1);
  assert.equal(await fx.redis.exists('rq:results-scratch'), 0, 'the scratch stream is deleted in the same call');
  assert.deepEqual(await (await Job.fetch(fx.redis, job.id)).returnValue(), { doubled: 42 });
});

test("a failed job's stream is compact and expires with the job (failure_ttl, 1 year by default: docs/design.md)", async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.bad');
  const bad = () => {
    throw new Error('no luck');
  };
  const w = fx.worker([name], tasks({ 't.bad': bad }), { burst: true });
  await w.done;
  const key = keys.results(job.id);
  const bytes = Number(await fx.redis.memory('USAGE', key));
  assert.ok(bytes > 0 && bytes < COMPACT, `results stream takes ${bytes} bytes`);
  assert.equal(await fx.redis.ttl(key), 31536000);
  assert.match((await (await Job.fetch(fx.redis, job.id)).latestResult())!.excString!, /no luck/);
});

test('a repeated job appends each run to its stream; every result stays readable', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  const job = await q.enqueue('t.count', { repeat: new Repeat({ times: 2 }) });
  let calls = 0;
  const w = fx.worker([name], tasks({ 't.count': () => ++calls }), { burst: true });
  await w.done;
  const results = await (await Job.fetch(fx.redis, job.id)).results();
  assert.deepEqual(results.map((r) => r.returnValue), [3, 2, 1]);
  const ttl = await fx.redis.ttl(keys.results(job.id));
  assert.ok(ttl > 490 && ttl <= 500, `ttl ${ttl}`);
});

test('where an ACL refuses COPY, results are written as XADD leaves them, with their TTL', async () => {
  // A server of its own: the ACL must not reach other tests.
  const server = await RedisServer.start();
  const admin = createRedis(server.url);
  const conns = [admin];
  try {
    await admin.call('ACL', 'SETUSER', 'nocopy', 'on', '>pw', '~*', '&*', '+@all', '-copy');
    const url = `redis://nocopy:pw@127.0.0.1:${server.port}`;
    const conn = createRedis(url);
    conns.push(conn);
    await assert.rejects(conn.call('COPY', 'x', 'y'), /NOPERM/);
    const name = uniq('q');
    const job = await new Queue(name, conn).enqueue('t.ok', { resultTtl: 200 });
    const w = new Worker([name], { connection: conn, tasks: tasks({ 't.ok': () => 'fine' }), logger: silentLogger, burst: true });
    await w.work();
    assert.equal(await admin.hget(keys.job(job.id), 'status'), 'finished');
    const ttl = await admin.ttl(keys.results(job.id));
    assert.ok(ttl > 190 && ttl <= 200, `ttl ${ttl}`);
    assert.equal(await admin.exists('rq:results-scratch'), 0);
    assert.equal(await (await Job.fetch(admin, job.id)).returnValue(), 'fine');
  } finally {
    for (const c of conns) c.disconnect();
    await server.destroy();
  }
});
