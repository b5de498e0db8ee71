// `openvle-rq info`: rq info's format line for line for a known state, read
// by Python's rq info (Debian's 1.13) too, and nothing in Redis changed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, keys, Queue } from '../../src/index.js';
import { RedisServer } from '../helpers/redis.js';
import { Cli, killAll, rqCli, run } from './helpers.js';

/** Short unique names, so that rq's 12-column padding shows. */
const short = (p: string) => p + randomBytes(2).toString('hex');
const UPDATED = /^Updated: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$/;

/** Every key with its value (DUMP), to show a command changed nothing. */
async function dumpAll(redis: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const k of (await redis.keys('*')).sort()) {
    const d = await redis.dumpBuffer(k);
    out.set(k, d ? d.toString('base64') : '');
  }
  return out;
}

describe('openvle-rq info', () => {
  let server: RedisServer;
  let redis: Redis;
  let url: string;
  const qa = short('a');
  const qb = short('b');
  const qc = short('c');
  const w1 = short('w1');
  const w2 = short('w2');
  const w3 = short('w3');

  before(async () => {
    server = await RedisServer.start();
    url = server.url;
    redis = createRedis(url);
    const now = Math.floor(Date.now() / 1000);
    const a = new Queue(qa, redis);
    const [first] = [await a.enqueue('tasks.add', { args: [1, 2] }), await a.enqueue('tasks.add', { args: [3, 4] }), await a.enqueue('tasks.add', { args: [5, 6] })];
    await a.enqueueIn('1h', 'tasks.add', { args: [7, 8] });
    // Registries as workers leave them; one expired entry in each, which
    // rq info's cleanup would remove and so does not count.
    await redis.zadd(keys.registry('wip', qa), now + 100, 'running-job:exec1', now - 100, 'dead-job:exec0');
    await redis.zadd(keys.registry('finished', qa), now + 500, 'f1', now + 500, 'f2', now - 10, 'f-old');
    await redis.zadd(keys.registry('failed', qa), now + 3600, 'x1', now - 10, 'x-old');
    const b = new Queue(qb, redis);
    await b.enqueue('tasks.add', { args: [0, 0], dependsOn: first!.id }); // deferred
    const c1 = await b.enqueue('tasks.add', { args: [9, 9] });
    await c1.cancel();
    const c = new Queue(qc, redis);
    await c.enqueueMany(Array.from({ length: 25 }, (_, i) => ({ func: 'tasks.add', args: [i, i] })));
    // Workers as a worker's birth writes them.
    const worker = async (name: string, queues: string[], fields: Record<string, string | number>) => {
      await redis.hset(keys.worker(name), { birth: '2026-01-01T00:00:00.000000Z', last_heartbeat: '2026-01-01T00:00:01.000000Z', queues: queues.join(','), ...fields });
      await redis.sadd(keys.workers, keys.worker(name));
      for (const q of queues) await redis.sadd(keys.workersOf(q), keys.worker(name));
    };
    await worker(w1, [qa, qb], { hostname: 'hostA', ip_address: '10.0.0.1:5000', pid: 1234, state: 'busy', successful_job_count: 4, failed_job_count: 3, version: '0.1.0' });
    await worker(w2, [qc], { hostname: 'hostB', ip_address: '10.0.0.2:6000', pid: 99, state: 'idle' });
    // A worker that died without cleaning up its set membership: skipped.
    await redis.sadd(keys.workers, keys.worker(w3));
    await redis.sadd(keys.workersOf(qc), keys.worker(w3));
  });
  after(async () => {
    await killAll();
    redis.disconnect();
    await server.destroy();
  });

  const bar = (n: number) => '|' + '█'.repeat(n);
  // 25 is the largest count: scale 50, chart width 20 (80 columns), ratio 0.4.
  const queueLines = [
    `${qa.padEnd(12)} ${bar(1)} 3, 1 executing, 2 finished, 1 failed`,
    `${qb.padEnd(12)} ${bar(0)} 0, 0 executing, 0 finished, 0 failed`,
    `${qc.padEnd(12)} ${bar(10)} 25, 0 executing, 0 finished, 0 failed`,
  ];
  const workerLines = [
    `${w1} (hostA 10.0.0.1:5000 1234): busy ${qa}, ${qb}. jobs: 4 finished, 3 failed`,
    `${w2} (hostB 10.0.0.2:6000 99): idle ${qc}. jobs: 0 finished, 0 failed`,
  ];

  let initial: Map<string, string>;

  test("prints rq info's lines", async () => {
    initial = await dumpAll(redis);
    const r = await run(['info', '-u', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.deepEqual(lines.slice(0, -1), [...queueLines, '3 queues, 28 jobs total', '', ...workerLines, '2 workers, 3 queues', '']);
    assert.match(lines.at(-1)!, UPDATED);
  });

  test('--raw, -Q, -W, -R and queue arguments', async () => {
    let r = await run(['info', '--raw', '-u', url]);
    assert.deepEqual(r.stdout.split('\n'), [
      `queue ${qa} 3, 1 executing, 2 finished, 1 failed`,
      `queue ${qb} 0, 0 executing, 0 finished, 0 failed`,
      `queue ${qc} 25, 0 executing, 0 finished, 0 failed`,
      `worker ${w1} (hostA 10.0.0.1:5000 1234) busy ${qa}, ${qb}. jobs: 4 finished, 3 failed`,
      `worker ${w2} (hostB 10.0.0.2:6000 99) idle ${qc}. jobs: 0 finished, 0 failed`,
      '',
    ]);
    r = await run(['info', '-Q', '-u', url]);
    assert.deepEqual(r.stdout.split('\n'), [...queueLines, '3 queues, 28 jobs total', '']);
    r = await run(['info', '-W', '-u', url]);
    assert.deepEqual(r.stdout.split('\n'), [...workerLines, '2 workers, 3 queues', '']);
    r = await run(['info', '-R', '-W', '-u', url]);
    assert.deepEqual(r.stdout.split('\n'), [`${qa}: ${w1} (busy)`, `${qb}: ${w1} (busy)`, `${qc}: ${w2} (idle)`, '2 workers, 3 queues', '']);
    // One queue: only its workers; the chart scales to its own count.
    r = await run(['info', '-u', url, qb]);
    const lines = r.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 7), [`${qb.padEnd(12)} | 0, 0 executing, 0 finished, 0 failed`, '1 queues, 0 jobs total', '', workerLines[0], '1 workers, 1 queues', '', lines[6]]);
    assert.match(lines[6]!, UPDATED);
    // An unknown queue is shown empty, as rq does.
    r = await run(['info', '-R', '-u', url, 'nosuchq']);
    assert.deepEqual(r.stdout.split('\n').slice(0, 5), ['nosuchq      | 0, 0 executing, 0 finished, 0 failed', '1 queues, 0 jobs total', '', 'nosuchq: –', '0 workers, 1 queues']);
  });

  test('--json: the same facts plus scheduled, deferred and canceled counts', async () => {
    const r = await run(['info', '--json', '-u', url]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { queues: Array<Record<string, unknown>>; workers: Array<Record<string, unknown>>; total_jobs: number; suspended: boolean };
    assert.equal(doc.total_jobs, 28);
    assert.equal(doc.suspended, false);
    assert.deepEqual(doc.queues, [
      { name: qa, queued: 3, executing: 1, finished: 2, failed: 1, scheduled: 1, deferred: 0, canceled: 0, workers: [w1] },
      { name: qb, queued: 0, executing: 0, finished: 0, failed: 0, scheduled: 0, deferred: 1, canceled: 1, workers: [w1] },
      { name: qc, queued: 25, executing: 0, finished: 0, failed: 0, scheduled: 0, deferred: 0, canceled: 0, workers: [w2] },
    ]);
    assert.deepEqual(
      doc.workers.map((w) => [w.name, w.hostname, w.ip_address, w.pid, w.state, w.queues, w.successful_job_count, w.failed_job_count]),
      [
        [w1, 'hostA', '10.0.0.1:5000', 1234, 'busy', [qa, qb], 4, 3],
        [w2, 'hostB', '10.0.0.2:6000', 99, 'idle', [qc], 0, 0],
      ],
    );
    const onlyQ = JSON.parse((await run(['info', '--json', '-Q', '-u', url])).stdout) as Record<string, unknown>;
    assert.equal(onlyQ.workers, undefined);
  });

  test('-i refreshes until interrupted, then exits 0', async () => {
    const c = new Cli(['info', '-i', '0.1', '-Q', '-u', url]);
    await c.waitFor(/(3 queues, 28 jobs total[\s\S]*){3}/);
    const r = await c.stop('SIGINT');
    assert.equal(r.code, 0, r.stderr);
  });

  test('none of the runs above changed anything in Redis (rq info cleans up; this only reads)', async () => {
    assert.deepEqual(await dumpAll(redis), initial, 'info wrote to Redis');
  });

  test("Python's rq info (1.13) reads the same state the same way", async () => {
    const ours = (await run(['info', '-u', url])).stdout.split('\n');
    const py = await rqCli(['info', '-u', url]);
    assert.equal(py.code, 0, py.stdout + py.stderr);
    const theirs = py.stdout.split('\n');
    // 1.13 prints `<name> |<bar> <count>` per queue and worker lines without
    // `. jobs: ...`; the rest matches exactly. Python lists in set order.
    const strip = (l: string) => l.replace(/, \d+ executing, \d+ finished, \d+ failed$/, '').replace(/\. jobs: \d+ finished, \d+ failed$/, '');
    const body = (ls: string[]) => ls.filter((l) => !l.startsWith('Updated: ')).map(strip);
    assert.deepEqual(body(theirs).sort(), body(ours).sort(), `ours:\n${ours.join('\n')}\ntheirs:\n${py.stdout}`);
  });
});
