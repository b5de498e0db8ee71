// `openvle-rq worker`: the real binary against a Redis of the file's own.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Job, keys, Queue } from '../../src/index.js';
import { uniq, until } from '../helpers/util.js';
import { Cli, run, runMany, tempDir, TASKS_TS, cliRedis } from './helpers.js';

describe('openvle-rq worker', () => {
  const tmp = tempDir({
    'tasks.ts': TASKS_TS,
    'more.mjs': 'export function triple(x) { return 3 * x; }\nexport const notATask = 1;\n',
    'leaky.mjs': "export function leak() { Promise.reject(new Error('nobody awaits me')); return 'done'; }\n",
  });
  const fx = cliRedis(() => tmp.remove());

  test('burst: runs every job of its queues with tasks from .ts and .mjs modules, logs start and end, exits 0', async () => {
    const q = uniq('wq');
    const queue = new Queue(q, fx.redis);
    const a = await queue.enqueue('tasks.add', { args: [2, 3] });
    const h = await queue.enqueue('tasks.hello', { kwargs: { name: 'cli' } });
    const t = await queue.enqueue('more.triple', { args: [7] });
    const w = await queue.enqueue('tasks.whoami');
    const b = await queue.enqueue('tasks.boom');
    const name = uniq('w').replace(/-/g, '');
    const r = await run(['worker', q, '-b', '-n', name, '--import', tmp.path('tasks.ts'), '--import', tmp.path('more.mjs'), '-u', fx.url], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await (await Job.fetch(fx.redis, a.id)).returnValue(), 5);
    assert.equal(await (await Job.fetch(fx.redis, h.id)).returnValue(), 'hello cli');
    assert.equal(await (await Job.fetch(fx.redis, t.id)).returnValue(), 21);
    // currentJob() from 'openvle-rq' in a module outside the repo is this package's.
    assert.equal(await (await Job.fetch(fx.redis, w.id)).returnValue(), w.id);
    assert.equal(await (await Job.fetch(fx.redis, b.id)).getStatus(), 'failed');
    // rq's log lines: one per job start (`<queue>: <task name> (<id>)`; the description only
    // with --log-job-description, as it may hold secrets) and end.
    assert.match(r.stdout, new RegExp(`${q}: tasks\\.add \\(${a.id}\\)`));
    assert.match(r.stdout, new RegExp(`${q}: Job OK \\(${a.id}\\)`));
    assert.match(r.stderr, new RegExp(`${b.id}.*boom`));
    assert.match(r.stdout, new RegExp(`Worker ${name} started`));
    // Death registered: out of the worker sets.
    assert.equal(await fx.redis.sismember(keys.workers, keys.worker(name)), 0);
  });

  test('a task that leaves a rejected promise unawaited: logged, and the worker goes on', async () => {
    const q = uniq('wq');
    const queue = new Queue(q, fx.redis);
    const leak = await queue.enqueue('leaky.leak');
    const next = await queue.enqueue('more.triple', { args: [2] });
    const r = await run(['worker', q, '-b', '--import', tmp.path('leaky.mjs'), '--import', tmp.path('more.mjs'), '-u', fx.url], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /unhandled rejection in a task: Error: nobody awaits me/);
    assert.equal(await (await Job.fetch(fx.redis, leak.id)).getStatus(), 'finished');
    assert.equal(await (await Job.fetch(fx.redis, next.id)).returnValue(), 6);
  });

  test('default queue, --max-jobs, -c/--concurrency, rq spellings -ds and --logging_level, --quiet', async () => {
    const queue = new Queue('default', fx.redis);
    const jobs = await Promise.all([1, 2, 3, 4].map((i) => queue.enqueue('tasks.sleepy', { args: [50 * i] })));
    const r = await run(
      ['worker', '-b', '--max-jobs', '3', '--concurrency', '3', '-ds', 'round_robin', '--logging_level', 'WARNING', '--import', tmp.path('tasks.ts'), '-u', fx.url],
      { cwd: tmp.dir },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '', 'WARNING level: no info lines');
    const statuses = await Promise.all(jobs.map((j) => j.getStatus()));
    assert.deepEqual(statuses.filter((s) => s === 'finished').length, 3, statuses.join());
    assert.deepEqual(statuses.filter((s) => s === 'queued').length, 1, statuses.join());
    await queue.empty();
  });

  test('SIGTERM stops a worker warm: the running job finishes, the worker exits 0', async () => {
    const q = uniq('wsig');
    const queue = new Queue(q, fx.redis);
    const job = await queue.enqueue('tasks.sleepy', { args: [600] });
    const w = new Cli(['worker', q, '--import', tmp.path('tasks.ts'), '-u', fx.url], { cwd: tmp.dir });
    await w.waitFor(new RegExp(`${q}: tasks\\.sleepy \\(${job.id}\\)`));
    const r = await w.stop('SIGTERM');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /warm shut down requested/);
    assert.equal(await job.getStatus(), 'finished');
  });

  test('a second signal stops it cold: the running job is handed back at once', async () => {
    const q = uniq('wcold');
    const queue = new Queue(q, fx.redis);
    const job = await queue.enqueue('tasks.sleepy', { args: [60_000] });
    const w = new Cli(['worker', q, '--import', tmp.path('tasks.ts'), '-u', fx.url], { cwd: tmp.dir });
    await w.waitFor(new RegExp(`\\(${job.id}\\)`));
    w.proc.kill('SIGINT');
    await w.waitFor(/warm shut down requested/);
    const r = await w.stop('SIGINT');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /cold shut down/);
    // Not finished, and no longer running under that worker.
    await until(async () => (await job.getStatus()) !== 'started', 5000);
    assert.notEqual(await job.getStatus(), 'finished');
  });

  test('exits 1 with one line when Redis says the workers are suspended', async () => {
    await fx.redis.set(keys.suspended, '1');
    try {
      const r = await run(['worker', '-b', '--import', tmp.path('tasks.ts'), '-u', fx.url]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /suspended/);
    } finally {
      await fx.redis.del(keys.suspended);
    }
  });

  test('two task modules with the same file name would replace each other\'s tasks: one line and exit 1', async () => {
    mkdirSync(tmp.path('other'), { recursive: true });
    const other = tmp.write('other/more.mjs', 'export function triple(x) { return 33 * x; }\n');
    const r = await run(['worker', '-b', '--import', tmp.path('more.mjs'), '--import', other, '-u', fx.url]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^error: task module '.*other\/more\.mjs': would replace task\(s\) registered by another module: more\.triple/);
  });

  test('a running worker keeps two connections (commands, pub/sub): no idle probe stays open', async () => {
    const clients = async () => String(await fx.redis.client('LIST')).trim().split('\n').length;
    const before = await clients();
    const w = new Cli(['worker', uniq('wconn'), '--import', tmp.path('tasks.ts'), '-u', fx.url], { cwd: tmp.dir });
    await w.waitFor(/Listening on/);
    await until(async () => (await clients()) === before + 2, 10_000);
    const r = await w.stop('SIGTERM');
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('a task module that does not load, or a bad option value, is one line and exit 1', async () => {
    const bad = tmp.write('broken.ts', 'export const x: number = ;\n');
    const cases = [
      ['worker', '-b', '--import', bad, '-u', fx.url],
      ['worker', '-b', '--import', tmp.path('missing.ts'), '-u', fx.url],
      ['worker', '-b', '--concurrency', 'zero', '-u', fx.url],
      ['worker', '-b', '--dequeue-strategy', 'fastest', '-u', fx.url],
      ['worker', '-b', '--logging-level', 'LOUD', '-u', fx.url],
      ['worker', 'bad queue name', '-b', '-u', fx.url],
    ];
    const results = await runMany(cases);
    for (const [i, args] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});
