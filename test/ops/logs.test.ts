// Structured logs: `openvle-rq worker --log-format json` writes one JSON
// object per line, with the job lines' fields, honours --logging-level,
// never writes a secret; pretty is one readable line per record; rq's
// Python format strings are refused. The attempt number of OpenVLE queues
// follows the queue's retry policy.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { Queue, Retry, TaskRegistry, Worker } from '../../src/index.js';
import { openVleAttempt } from '../../src/cli/ops.js';
import { attachJobLog, createStructuredLogger, engineLogger } from '../../src/ops/logging.js';
import { Cli, cliRedis, run, tempDir } from '../cli/helpers.js';
import { until, uniq } from '../helpers/util.js';

const dir = tempDir({
  'leaky.mjs': `
export function leak() {
  throw new Error('PVE said: PVEAPIToken=openvle@pve!tok=' + process.env.PVE_TOKEN_VALUE + ' denied; mail password=' + process.env.SMTP_PASSWORD);
}
export function ok(n) { return n + 1; }
`,
});
const fx = cliRedis(() => dir.remove());

const TOKEN = '7f3c2a10-5b9e-4d2c-a1f0-0123456789ab';
const SMTP_PASSWORD = 'Hunter2-smtp-Secret';
const SECRET_ENV = { PVE_TOKEN_VALUE: TOKEN, SMTP_PASSWORD };

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

describe('worker --log-format json', () => {
  test('job lines carry worker, queue, job id, task id, attempt, duration and outcome; no secret is written', async () => {
    const q = uniq('logq');
    const queue = new Queue(q, fx.redis);
    const good = await queue.enqueue('leaky.ok', { args: [1], meta: { task_id: 42 } });
    const bad = await queue.enqueue('leaky.leak', { meta: { task_id: '43' } });
    const r = await run(['worker', '-u', fx.url, '--burst', '-n', 'logw', '--log-format', 'json', '--import', dir.path('leaky.mjs'), q], {
      env: SECRET_ENV,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '', 'structured logs go to stderr only');
    const lines = jsonLines(r.stderr);
    for (const l of lines) {
      assert.equal(typeof l.time, 'string');
      assert.equal(typeof l.level, 'string');
      assert.equal(typeof l.msg, 'string');
    }
    const of = (event: string, id: string) => lines.find((l) => l.event === event && l.job_id === id);
    const started = of('job.started', good.id);
    assert.deepEqual(
      { ...started, time: undefined, pid: undefined, msg: undefined },
      { level: 'info', event: 'job.started', worker: 'logw', queue: q, job_id: good.id, task: 'leaky.ok', task_id: 42, attempt: 1, time: undefined, pid: undefined, msg: undefined },
    );
    const finished = of('job.finished', good.id)!;
    assert.equal(finished.outcome, 'finished');
    assert.equal(finished.task_id, 42);
    assert.equal(finished.attempt, 1);
    assert.equal(typeof finished.duration_ms, 'number');
    const failed = of('job.failed', bad.id)!;
    assert.equal(failed.level, 'error');
    assert.equal(failed.outcome, 'failed');
    assert.equal(failed.task_id, 43);
    assert.equal(failed.worker, 'logw');
    assert.match(String(failed.error), /PVE said: PVEAPIToken=\*\*\*/);
    // The engine's own lines come through the same logger.
    assert.ok(lines.some((l) => l.component === 'engine' && /^Worker rq:worker:logw: started with PID /.test(String(l.msg))));

    assert.ok(!r.stderr.includes(TOKEN), 'the token value is never written');
    assert.ok(!r.stderr.includes(SMTP_PASSWORD), 'the SMTP password is never written');
  });

  test('--logging-level WARNING leaves out info lines', async () => {
    const q = uniq('logq');
    const queue = new Queue(q, fx.redis);
    await queue.enqueue('leaky.ok', { args: [1] });
    await queue.enqueue('leaky.leak', {});
    const r = await run(['worker', '-u', fx.url, '--burst', '--log-format', 'json', '--logging-level', 'WARNING', '--import', dir.path('leaky.mjs'), q], {
      env: SECRET_ENV,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stderr);
    assert.ok(lines.length > 0);
    assert.deepEqual([...new Set(lines.map((l) => l.level))].filter((l) => l !== 'warn' && l !== 'error'), []);
    assert.ok(lines.some((l) => l.event === 'job.failed'));
  });

  test('LOG_FORMAT=json does it without the flag; pretty is one readable line per record', async () => {
    const q = uniq('logq');
    const queue = new Queue(q, fx.redis);
    const job = await queue.enqueue('leaky.ok', { args: [1] });
    const r = await run(['worker', '-u', fx.url, '--burst', '--import', dir.path('leaky.mjs'), q], { env: { LOG_FORMAT: 'json' }, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(jsonLines(r.stderr).some((l) => l.event === 'job.finished' && l.job_id === job.id));

    const job2 = await queue.enqueue('leaky.leak', {});
    const p = await run(['worker', '-u', fx.url, '--burst', '--log-format', 'pretty', '--import', dir.path('leaky.mjs'), q], { env: SECRET_ENV, timeoutMs: 60_000 });
    assert.equal(p.code, 0, p.stderr);
    const lines = p.stderr.split('\n').filter(Boolean);
    assert.ok(lines.every((l) => /^\d\d:\d\d:\d\d (DEBUG|INFO |WARN |ERROR) /.test(l)), p.stderr);
    assert.ok(lines.some((l) => l.includes(`job_id=${job2.id}`) && l.includes('outcome=failed')), p.stderr);
    // the traceback's record: its first line and its exception line, on one line
    assert.ok(lines.some((l) => l.includes(`[Job ${job2.id}]: exception raised while executing (leaky.leak) Error: PVE said: PVEAPIToken=***`)), p.stderr);
    assert.ok(!p.stderr.includes(TOKEN));
  });

  test("rq's Python format strings and unknown formats are refused with one line", async () => {
    for (const fmt of ['%(asctime)s %(message)s', 'xml']) {
      const r = await run(['worker', '-u', fx.url, '--burst', '--log-format', fmt, 'x']);
      // a bad option value is a usage error: exit 2, as rq's (click's)
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /--log-format must be json or pretty/);
    }
    const r = await run(['worker', '-u', fx.url, '--burst', 'x'], { env: { LOG_FORMAT: 'yaml' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: LOG_FORMAT must be json, pretty or auto \(got 'yaml'\)\n$/);
  });
});

describe('attempt numbers of OpenVLE queues', () => {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      out.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  let worker: Worker | undefined;
  let working: Promise<void> | undefined;
  let conn: ReturnType<typeof fx.redis.duplicate> | undefined;
  after(async () => {
    worker?.stop({ cold: true });
    await working;
    conn?.disconnect();
  });

  test('attempt = max retries - retries left + 1 under WORKER_MAX_RETRY', async () => {
    // Own Redis (cliRedis): the OpenVLE queue name is this test's alone.
    const queue = new Queue('mails', fx.redis);
    let calls = 0;
    const tasks = new TaskRegistry();
    tasks.register('ops.flaky', () => {
      calls++;
      if (calls < 3) throw new Error(`attempt ${calls} fails`);
      return 'ok';
    });
    const log = createStructuredLogger({ stream, format: 'json', secrets: [] });
    conn = fx.redis.duplicate();
    worker = new Worker(['mails'], { connection: conn, tasks, logger: engineLogger(log), name: uniq('aw') });
    attachJobLog(worker, log, { attempt: openVleAttempt({ WORKER_MAX_RETRY: '2' }) });
    const job = await queue.enqueue('ops.flaky', { retry: new Retry({ max: 2 }) });
    working = worker.work();
    const ends = await until(() => {
      const mine = out.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.job_id === job.id && l.event !== 'job.started');
      return mine.length === 3 ? mine : undefined;
    }, 30_000);
    assert.deepEqual(
      ends!.map((l) => [l.event, l.attempt, l.outcome]),
      [
        ['job.retried', 1, 'retried'],
        ['job.retried', 2, 'retried'],
        ['job.finished', 3, 'finished'],
      ],
    );
  });
});
