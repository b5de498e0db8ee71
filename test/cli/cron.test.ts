// `openvle-rq cron`: several processes, one run per fire time, state kept
// across restarts, catch-up policies, and the keys Python tools read.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { keys } from '../../src/index.js';
import { uniq, until } from '../helpers/util.js';
import { Cli, run, tempDir, TASKS_TS, cliRedis } from './helpers.js';

// Every entry's queue comes from the environment, so each test has its own.
const CONFIG = `
import { cron } from 'openvle-rq';
import { add } from './tasks.ts';
const q = process.env.CRON_Q as string;
cron.register(add, { queueName: q, args: [1, 2], interval: 1 });
cron.register('tasks.hello', { queueName: q, kwargs: { name: 'cron' }, cron: '* * * * * *', name: 'every-second' });
cron.register('tasks.add', { queueName: q, args: [2, 2], cron: '*/2 * * * * *', name: 'even-seconds', resultTtl: 60 });
cron.register('tasks.add', { queueName: q, args: [30, 30], interval: 30, name: 'slow' });
cron.register('tasks.add', { queueName: q, args: [0, 0], interval: 1, name: 'catch-all', catchUp: 'all' });
cron.register('tasks.add', { queueName: q, args: [9, 9], cron: '* * * * * *', name: 'skipper', catchUp: 'skip' });
`;

describe('openvle-rq cron', () => {
  const tmp = tempDir({ 'tasks.ts': TASKS_TS, 'cron_config.ts': CONFIG });
  const fx = cliRedis(() => tmp.remove());

  const start = (q: string, extra: string[] = []) =>
    new Cli(['cron', tmp.path('cron_config.ts'), '-u', fx.url, ...extra], { cwd: tmp.dir, env: { CRON_Q: q } });

  /** The entry key of each entry name, from its state key. */
  async function entryKeys(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const k of await fx.redis.keys('rq:cron_job:*:state:*')) {
      const m = /^rq:cron_job:(.+):state:([0-9a-fx]+)$/.exec(k);
      if (m) out.set(m[2]!, m[1]!);
    }
    return out;
  }

  /** Runs in the queue, by entry name, from the job ids (cron-<entry key>-<fire time ms>). */
  async function runs(q: string): Promise<Map<string, number[]>> {
    const names = await entryKeys();
    const ids = await fx.redis.lrange(keys.queue(q), 0, -1);
    assert.equal(new Set(ids).size, ids.length, 'an id twice in the queue');
    const out = new Map<string, number[]>();
    for (const id of ids) {
      const m = /^cron-([0-9a-fx]+)-(\d+)$/.exec(id);
      assert.ok(m, id);
      const name = names.get(m[1]!) ?? m[1]!;
      out.set(name, [...(out.get(name) ?? []), Number(m[2])].sort((a, b) => a - b));
    }
    return out;
  }

  /** Entry name to entry key, for the entries that enqueued into q. */
  async function keysOf(q: string): Promise<Map<string, string>> {
    const names = await entryKeys();
    const out = new Map<string, string>();
    for (const id of await fx.redis.lrange(keys.queue(q), 0, -1)) {
      const k = /^cron-([0-9a-fx]+)-/.exec(id)?.[1];
      if (k && names.has(k)) out.set(names.get(k)!, k);
    }
    return out;
  }

  const count = async (q: string, entry: string) => (await runs(q)).get(entry)?.length ?? 0;
  const diffs = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);
  const enqueuedLines = (c: Cli) => (c.stdout.match(/Enqueued job /g) ?? []).length;

  test('two processes, a restart of one: every fire time enqueued exactly once, none missed', async () => {
    const q = uniq('cron2');
    const a = start(q);
    const b = start(q);
    await until(async () => (await count(q, 'tasks.add')) >= 4, 15_000, 50);
    const b1 = await b.stop('SIGTERM');
    assert.equal(b1.code, 0, b1.stderr);
    assert.match(b1.stdout, /shutdown complete/);
    const b2 = start(q);
    await b2.waitFor(/started with 6 entries/);
    const mark = (await runs(q)).get('every-second')!.length;
    await until(async () => ((await runs(q)).get('every-second')?.length ?? 0) >= mark + 4, 15_000, 50);
    const [ra, rb2] = await Promise.all([a.stop('SIGTERM'), b2.stop('SIGINT')]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb2.code, 0, rb2.stderr);

    const all = await runs(q);
    const total = [...all.values()].reduce((n, xs) => n + xs.length, 0);
    // One log line per job, over all processes: no fire time was enqueued by two.
    assert.equal(enqueuedLines(a) + enqueuedLines(b) + enqueuedLines(b2), total);
    for (const c of [a, b, b2]) assert.doesNotMatch(c.output, /already enqueued|ERROR|WARNING/, c.output);

    // Interval 1 s: a gapless grid from the first run on.
    const interval = all.get('tasks.add')!;
    assert.ok(interval.length >= 6, String(interval));
    assert.deepEqual(new Set(diffs(interval)), new Set([1000]), String(interval));
    // Cron with seconds, in UTC: every second, and every even second, on the second.
    const every = all.get('every-second')!;
    assert.ok(every.length >= 6, String(every));
    assert.deepEqual(new Set(diffs(every)), new Set([1000]), String(every));
    assert.ok(every.every((t) => t % 1000 === 0));
    const even = all.get('even-seconds')!;
    assert.ok(even.length >= 3, String(even));
    assert.deepEqual(new Set(diffs(even)), new Set([2000]), String(even));
    assert.ok(even.every((t) => t % 2000 === 0));
    // The 30 s interval fired once, at the first start, and not again when B restarted.
    assert.equal(all.get('slow')?.length, 1);

    // The jobs are JSON jobs with rq cron's options.
    const hashes = await Promise.all((await fx.redis.lrange(keys.queue(q), 0, -1)).map((i) => fx.redis.hgetall(keys.job(i))));
    assert.ok(hashes.every((h) => h.status === 'queued' && h.origin === q));
    assert.equal(hashes.find((h) => h.description === 'tasks.add(2, 2)')!.result_ttl, '60');
    assert.equal(hashes.find((h) => h.description === 'tasks.add(1, 2)')!.result_ttl, '500');
    const data = await fx.redis.hgetBuffer(keys.job(`cron-${(await keysOf(q)).get('every-second')}-${every[0]}`), 'data');
    assert.equal(inflateSync(data!).toString(), '["tasks.hello", null, [], {"name": "cron"}]');
    // rq's job history per cron job name.
    assert.equal(await fx.redis.zcard('rq:cron_job:every-second:jobs'), every.length);
    // All three schedulers registered their death.
    assert.equal(await fx.redis.zcard('rq:cron_schedulers'), 0);

    // A worker runs them.
    const ids = await fx.redis.lrange(keys.queue(q), 0, -1);
    const r = await run(['worker', q, '-b', '--import', tmp.path('tasks.ts'), '-u', fx.url], { cwd: tmp.dir });
    assert.equal(r.code, 0, r.stderr);
    const statuses = await Promise.all(ids.map((i) => fx.redis.hget(keys.job(i), 'status')));
    assert.deepEqual(new Set(statuses), new Set(['finished']), statuses.join());
  });

  test('after all processes were down: missed fire times caught up per policy, interval entries not fired again at once', async () => {
    const q = uniq('cronup');
    const a = start(q);
    await until(async () => (await count(q, 'every-second')) >= 2, 15_000, 50);
    await a.stop('SIGTERM');
    const before = await runs(q);
    // Every process is down now. The stored next fire times are the first
    // missed ones once Redis' clock has passed them by 3 s.
    const stored = new Map<string, number>();
    for (const [name, key] of await keysOf(q)) stored.set(name, Number(await fx.redis.hget(`rq:cron_job:${name}:state:${key}`, 'next')));
    const lastDue = Math.max(...['tasks.add', 'every-second', 'catch-all', 'skipper'].map((n) => stored.get(n)!));
    await until(async () => Number((await fx.redis.time())[0]) * 1000 >= lastDue + 3000, 10_000, 50);
    const b = start(q);
    await b.waitFor(/started with 6 entries/);
    const grown = (now: Map<string, number[]>, name: string) => (now.get(name)?.length ?? 0) - (before.get(name)?.length ?? 0);
    await until(async () => {
      const now = await runs(q);
      return ['tasks.add', 'every-second', 'catch-all', 'skipper'].every((n) => grown(now, n) >= 3);
    }, 15_000, 50);
    const rb = await b.stop('SIGTERM');
    assert.equal(rb.code, 0, rb.stderr);
    const afterRuns = await runs(q);
    const added = (name: string) => (afterRuns.get(name) ?? []).filter((t) => !(before.get(name) ?? []).includes(t));

    // 'once' (the default): one job for the missed fire times (the first of
    // them), then on with the grid.
    for (const name of ['tasks.add', 'every-second']) {
      const xs = added(name);
      assert.equal(xs[0], stored.get(name), `${name}: ${xs}`);
      assert.ok(xs[1]! - xs[0]! >= 3000, `${name}: the missed ones were collapsed: ${xs}`);
      assert.deepEqual(new Set(diffs(xs.slice(1))), new Set([1000]), `${name}: ${xs}`);
    }
    // 'all': one job per missed fire time.
    const all = added('catch-all');
    assert.equal(all[0], stored.get('catch-all'));
    assert.deepEqual(new Set(diffs([...before.get('catch-all')!, ...all])), new Set([1000]), String(all));
    assert.ok(all.length >= 6, String(all));
    // 'skip': none of the missed ones (more than a period late), then the next fire time.
    const skipped = added('skipper');
    assert.ok(skipped.length >= 1 && skipped[0]! >= stored.get('skipper')! + 3000, `${skipped} vs ${stored.get('skipper')}`);
    assert.match(rb.stdout, /Skipped 'skipper' fire time/);
    // The 30 s interval job ran at the first start only.
    assert.equal(afterRuns.get('slow')?.length, 1);
  });

  test('rq cron keys while running: rq:cron_schedulers and rq:cron_scheduler:<name>', async () => {
    const q = uniq('cronkeys');
    const a = start(q, ['-n', 'sched-a']);
    await a.waitFor(/Enqueued job/);
    assert.ok((await fx.redis.zscore('rq:cron_schedulers', 'sched-a')) !== null);
    const h = await fx.redis.hgetall('rq:cron_scheduler:sched-a');
    assert.equal(h.name, 'sched-a');
    assert.equal(h.pid, String(a.proc.pid));
    assert.equal(h.config_file, tmp.path('cron_config.ts'));
    assert.match(h.created_at!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const ttl = await fx.redis.ttl('rq:cron_scheduler:sched-a');
    assert.ok(ttl > 0 && ttl <= 120, String(ttl));
    await until(async () => JSON.parse((await fx.redis.hget('rq:cron_scheduler:sched-a', 'cron_jobs'))!).some((j: { latest_enqueue_time: string | null }) => j.latest_enqueue_time), 5000, 50);
    const jobs = JSON.parse(h.cron_jobs!) as Array<Record<string, unknown>>;
    assert.equal(jobs.length, 6);
    assert.deepEqual(Object.keys(jobs[0]!), ['func_name', 'name', 'queue_name', 'args', 'kwargs', 'interval', 'cron', 'latest_enqueue_time', 'next_enqueue_time', 'result_ttl']);
    assert.deepEqual([jobs[0]!.func_name, jobs[0]!.name, jobs[0]!.queue_name, jobs[0]!.args, jobs[0]!.interval], ['tasks.add', 'tasks.add', q, '[1, 2]', 1]);
    // croniter's order for 6 fields: seconds last.
    assert.equal(jobs[2]!.cron, '* * * * * */2');
    assert.equal(jobs[1]!.kwargs, '{"name": "cron"}');
    await a.stop('SIGTERM');
    assert.equal(await fx.redis.zscore('rq:cron_schedulers', 'sched-a'), null);
  });
});
