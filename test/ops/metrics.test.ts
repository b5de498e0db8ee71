// `openvle-rq worker --metrics-port`: a running worker's /metrics, scraped
// before and after jobs run, shows the job counters, the duration
// histogram, the sampled queue gauges and Node's process metrics move.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Queue, Retry } from '../../src/index.js';
import { Cli, cliRedis } from '../cli/helpers.js';
import { until, uniq } from '../helpers/util.js';

const fx = cliRedis();

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return res.text();
}

/** The value of one sample, e.g. value(text, 'openvle_rq_jobs_finished_total', {queue: 'q'}); 0 when absent. */
function value(text: string | undefined, name: string, labels: Record<string, string> = {}): number {
  for (const line of (text ?? '').split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^(\S+?)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

describe('worker metrics endpoint', () => {
  test('counters, histogram and queue gauges move as jobs run', async () => {
    const q = uniq('mq');
    const queue = new Queue(q, fx.redis);
    await queue.enqueue('tasks.add', { args: [1, 2] });
    // Holds one of the three slots until the end of the test.
    const slow = await queue.enqueue('tasks.slow', { args: [600_000] });
    const w = new Cli(['worker', '-u', fx.url, '--concurrency', '3', '--import', 'examples/tasks.ts', '--metrics-port', '0', '--metrics-host', '127.0.0.1', q]);
    const [, url] = await w.waitFor(/Metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/, 30_000);

    // The two jobs start together; the first one's end is recorded a round
    // trip later (its worker lane's next call), so wait for both.
    const first = await until(async () => {
      const t = await scrape(url!);
      const started = value(t, 'openvle_rq_jobs_started_total', { queue: q, task: 'tasks.slow' }) === 1;
      return started && value(t, 'openvle_rq_jobs_finished_total', { queue: q, task: 'tasks.add' }) === 1 ? t : undefined;
    }, 30_000, 100);
    assert.equal(value(first, 'openvle_rq_jobs_started_total', { queue: q, task: 'tasks.add' }), 1);
    assert.equal(value(first, 'openvle_rq_jobs_failed_total', { queue: q, task: 'tasks.boom' }), 0);
    assert.ok(value(first, 'process_cpu_user_seconds_total') > 0, 'Node process defaults are served');
    assert.match(first ?? '', /^nodejs_heap_size_used_bytes /m);

    // A retried-then-finished job, a permanent failure, an unregistered
    // function (label 'other'), a job scheduled for later and one waiting
    // for the slow job.
    await queue.enqueue('tasks.flaky', { args: [1], retry: new Retry({ max: 1 }) });
    await queue.enqueue('tasks.sendMail', { args: ['nobody@example.org'] });
    await queue.enqueue('nowhere.to_be_found', {});
    await queue.enqueueIn('1h', 'tasks.add', { args: [3, 4] });
    await queue.enqueue('tasks.add', { args: [5, 6], dependsOn: slow.id });

    const after = await until(async () => {
      const t = await scrape(url!);
      const done =
        value(t, 'openvle_rq_jobs_failed_total', { queue: q, task: 'other' }) === 1 &&
        value(t, 'openvle_rq_jobs_finished_total', { queue: q, task: 'tasks.flaky' }) === 1 &&
        value(t, 'openvle_rq_jobs_failed_total', { queue: q, task: 'tasks.sendMail' }) === 1 &&
        value(t, 'openvle_rq_queue_scheduled', { queue: q }) === 1 &&
        value(t, 'openvle_rq_queue_deferred', { queue: q }) === 1 &&
        value(t, 'openvle_rq_queue_failed', { queue: q }) === 2;
      return done ? t : undefined;
    }, 30_000, 100).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${await scrape(url!)}\n${w.output}`);
    });
    assert.equal(value(after, 'openvle_rq_jobs_retried_total', { queue: q, task: 'tasks.flaky' }), 1);
    assert.equal(value(after, 'openvle_rq_jobs_started_total', { queue: q, task: 'tasks.flaky' }), 2);
    assert.equal(value(after, 'openvle_rq_jobs_failed_total', { queue: q, task: 'tasks.flaky' }), 0);
    assert.doesNotMatch(after ?? '', /task="nowhere\.to_be_found"/, 'unregistered names never become label values');
    assert.equal(value(after, 'openvle_rq_job_duration_seconds_count', { queue: q, task: 'tasks.add', outcome: 'finished' }), 1);
    assert.equal(value(after, 'openvle_rq_job_duration_seconds_count', { queue: q, task: 'tasks.flaky', outcome: 'retried' }), 1);
    assert.equal(value(after, 'openvle_rq_queue_executing', { queue: q }), 1);
    assert.equal(value(after, 'openvle_rq_queue_workers', { queue: q }), 1);

    // Two more long jobs fill the slots; the next one waits in the queue.
    await queue.enqueue('tasks.slow', { args: [600_000] });
    await queue.enqueue('tasks.slow', { args: [600_000] });
    await queue.enqueue('tasks.add', { args: [7, 8] });
    await until(async () => {
      const t = await scrape(url!);
      return value(t, 'openvle_rq_queue_depth', { queue: q }) === 1 && value(t, 'openvle_rq_queue_executing', { queue: q }) === 3;
    }, 30_000, 100);

    const res = await fetch(url!.replace('/metrics', '/other'));
    assert.equal(res.status, 404);
    await res.text();
    await w.stop('SIGKILL');
  });
});
