// (c) Python RQ 1.13's `rq info` reads our queues and a busy TS worker.
// 1.13 prints `<queue> |<bar> <count>` per queue and
// `<worker> (<host> <ip> <pid>): <state> <queues>` per worker.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, Job, Queue, type Worker } from '../../src/index.js';
import { RedisServer } from '../helpers/redis.js';
import { uniq, until, waitForEvent } from '../helpers/util.js';
import { openGate } from './gate.js';
import { killAllPy, loadTasks, py, rqCli, tsWorker } from './helpers.js';

describe('rq info (Python 1.13) reads our state', () => {
  // A server of its own even when REDIS_URL is set: rq info reports every queue and worker.
  let server: RedisServer;
  let url: string;
  let redis: Redis;
  let worker: Worker;
  let working: Promise<void>;
  const q = uniq('infoq');
  const idleQ = uniq('infoidle');
  const gateName = uniq('gate');
  let blocked: Job;
  let waiting: Job[];

  before(async () => {
    server = await RedisServer.start();
    url = server.url;
    redis = createRedis(url);
    const tasks = await loadTasks();
    const queue = new Queue(q, redis);
    blocked = await queue.enqueue('tasks.block', { args: [gateName] });
    worker = tsWorker(redis, tasks, [q, idleQ], { name: uniq('tsw').replace(/-/g, '') });
    const started = waitForEvent(worker, 'job-started');
    working = worker.work();
    await started;
    // Queued behind the blocked one (concurrency 1), so rq info counts them.
    waiting = [
      await queue.enqueue('tasks.add', { args: [1, 2] }),
      await queue.enqueue('tasks.add', { args: [3, 4] }),
    ];
    // A second queue, empty, that the worker also listens on.
    await redis.sadd('rq:queues', `rq:queue:${idleQ}`);
  });
  after(async () => {
    openGate(gateName);
    worker?.stop({ cold: true });
    await working?.catch(() => {});
    await killAllPy();
    redis.disconnect();
    await server.destroy();
  });

  test('rq info names our queue (with its count) and our busy worker', async () => {
    const r = await rqCli(['info', '-u', url]);
    assert.equal(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /Traceback|Error/, r.output);
    const lines = r.stdout.split('\n');
    const qLine = lines.find((l) => l.startsWith(q + ' ') || l.startsWith(q + '|'));
    assert.ok(qLine, `no line for ${q}:\n${r.stdout}`);
    assert.match(qLine, /\|█* 2$/, 'two jobs wait in the queue');
    assert.ok(lines.some((l) => /^\S+\s+\| 0$/.test(l) && l.startsWith(idleQ)), `empty queue ${idleQ}:\n${r.stdout}`);
    assert.ok(lines.includes('2 queues, 2 jobs total'), r.stdout);
    const wLine = lines.find((l) => l.startsWith(worker.name + ' '));
    assert.ok(wLine, `no line for worker ${worker.name}:\n${r.stdout}`);
    assert.equal(wLine.replace(/^.*?\(/, '(').replace(/\d+\.\d+\.\d+\.\d+:\d+/, 'IP'), `(${hostname()} IP ${process.pid}): busy ${q}, ${idleQ}`);
    assert.ok(lines.includes('1 workers, 2 queues'), r.stdout);
  });

  test('rq info --raw and per-queue filtering', async () => {
    const r = await rqCli(['info', '--raw', '-u', url, q]);
    assert.equal(r.code, 0, r.output);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.includes(`queue ${q} 2`), r.stdout);
    const wLine = lines.find((l) => l.startsWith(`worker ${worker.name} `));
    assert.ok(wLine, r.stdout);
    assert.match(wLine, new RegExp(` busy ${q}, ${idleQ}$`));
  });

  test('Python Worker.all() sees the TS worker busy on the blocked job', async () => {
    const [workers, regs] = await py(url, [{ op: 'workers' }, { op: 'registries', queue: q }]);
    const w = (workers as any[]).find((x) => x.name === worker.name);
    assert.ok(w, JSON.stringify(workers));
    assert.equal(w.state, 'busy');
    assert.equal(w.current_job_id, blocked.id);
    assert.equal(w.pid, process.pid);
    assert.deepEqual(w.queues, [q, idleQ]);
    assert.ok(w.birth && w.last_heartbeat, 'birth and last_heartbeat parse');
    assert.equal(regs.count, 2);
    assert.deepEqual(regs.queued, waiting.map((j) => j.id));
    // 1.13 stores plain ids in wip; ours are RQ 2.x 'job:execution' members,
    // which 1.13 returns as they are.
    assert.equal(regs.started.length, 1);
    assert.ok(regs.started[0].startsWith(blocked.id + ':'), regs.started[0]);
  });

  test('after rq info ran (it cleans registries), the blocked job still finishes and the queue drains', async () => {
    const finished = new Set<string>();
    const all = waitForEvent<[Job, unknown]>(worker, 'job-finished', (job) => {
      finished.add(job.id);
      return finished.size === 3;
    });
    openGate(gateName);
    await all;
    const j = await Job.fetch(redis, blocked.id);
    assert.equal(j.status, 'finished');
    assert.equal(await j.returnValue(), `released ${gateName}`);
    await waitForEvent(worker, 'idle');
    const r = await rqCli(['info', '--raw', '-u', url, q]);
    assert.equal(r.code, 0, r.output);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.includes(`queue ${q} 0`), r.stdout);
    assert.match(lines.find((l) => l.startsWith(`worker ${worker.name} `)) ?? '', / idle /, r.stdout);
    // the counts an idle worker wrote, as Python's Worker reads them
    await until(async () => (await redis.hget(`rq:worker:${worker.name}`, 'successful_job_count')) === '3');
    const [workers] = await py(url, [{ op: 'workers' }]);
    const w = (workers as any[]).find((x) => x.name === worker.name);
    assert.deepEqual([w.successful_job_count, w.failed_job_count], [3, 0]);
    assert.ok(typeof w.total_working_time === 'number' && w.total_working_time > 0, JSON.stringify(w));
  });
});
