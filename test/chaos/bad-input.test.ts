// Chaos 5: bad input. Job hashes written by hand with fields missing or
// wrong, `data` that is not zlib, not JSON, a Python pickle or a zlib bomb,
// unknown functions, wrong argument types, huge payloads, ids with odd
// characters, queue entries with no hash or a key of the wrong type,
// malformed pub/sub messages, malformed CLI arguments and cron configs.
// Issue 16's hostile cases too: TTLs Redis refuses (single and batched
// ends), injected dependency ids, a decoding bomb, nested control messages.
// Each gets a clear error (stored on the job, logged, or printed), the
// worker keeps running, and good jobs queued in between are not affected.
import assert from 'node:assert/strict';
import { deflateRawSync, deflateSync, constants as zc } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Job, Queue, Retry } from '../../src/index.js';
import { encodeCall } from '../../src/engine/serializer.js';
import { uniq, until } from '../helpers/util.js';
import { runMany, tempDir, type Result } from '../cli/helpers.js';
import { FAST, runsByJob, settle, summary, WorkerProc, chaosRedis } from './helpers.js';

const fx = chaosRedis();

/** zlib data that inflates to `gb` GiB of zeros, in about gb MiB (full-flush blocks repeated, checksum computed). */
function zlibBomb(gb: number): Buffer {
  const chunk = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zc.Z_FULL_FLUSH });
  const n = gb * 1024;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((n * (1 << 20)) % 65521) * 65536 + 1) >>> 0);
  return Buffer.concat([Buffer.from([0x78, 0x9c]), ...Array<Buffer>(n).fill(chunk), Buffer.from([0x03, 0x00]), adler]);
}

// pickle.dumps(('fixtures.work', None, ['t', 1], {}), protocol=4), as default Python RQ writes data
const PICKLE = Buffer.from('8004952100000000000000288c0d66697874757265732e776f726b944e5d94288c0174944b01657d9474942e', 'hex');

test('bad input: hand-written jobs, odd ids, garbage commands, bad CLI arguments and cron configs', { timeout: 300_000 }, async () => {
  const tag = uniq('bad');
  const q = uniq('q');
  const queue = new Queue(q, fx.redis);
  const w = await WorkerProc.start(fx.server.url, [q], { ...FAST, concurrency: 3, withScheduler: true });
  const ok = (ms = 1) => encodeCall('fixtures.work', [tag, ms], {});

  const expected = new Map<string, string[]>();
  const excs = new Map<string, RegExp>();
  const good: string[] = [];
  let faults = 0;

  /** A job hash as someone might write it by hand; `fields` replaces the usual ones. */
  const handWritten = async (id: string, fields: Record<string, string | Buffer>, status: string, exc?: RegExp) => {
    await fx.redis.del(`rq:job:${id}`);
    if (Object.keys(fields).length) await fx.redis.hset(`rq:job:${id}`, fields);
    await fx.redis.rpush(`rq:queue:${q}`, id);
    expected.set(id, [status]);
    if (exc) excs.set(id, exc);
    faults++;
  };
  const goodJob = async () => {
    const j = await queue.enqueue('fixtures.work', { args: [tag, 1] });
    expected.set(j.id, ['finished']);
    good.push(j.id);
  };
  await fx.redis.sadd('rq:queues', `rq:queue:${q}`);
  const base = (data: Buffer): Record<string, string | Buffer> => ({ data, origin: q, status: 'queued', timeout: '30', description: 'hand-written' });

  // Missing and wrong fields.
  await handWritten(uniq('nothing'), { status: 'queued' }, 'failed', /MalformedJobError: job has no data field/);
  await handWritten(uniq('only-data'), { data: ok() }, 'finished');
  await handWritten(uniq('garbage-fields'), { ...base(ok()), timeout: 'soon', result_ttl: 'x', failure_ttl: 'y', meta: '{not json', status: 'bogus' }, 'finished');
  await handWritten(uniq('retries-garbage'), { ...base(encodeCall('fixtures.fail', [], {})), retries_left: 'many', retry_intervals: '[oops' }, 'failed', /designed to fail/);
  // A timeout beyond setTimeout's 24.8 days (34.7 days here) must not fire at once.
  await handWritten(uniq('long-timeout'), { ...base(ok(300)), timeout: '3000000' }, 'finished');
  await goodJob();
  // `data` in every wrong shape.
  await handWritten(uniq('raw-json'), base(Buffer.from(JSON.stringify(['fixtures.work', null, [tag, 1], {}]))), 'finished');
  // random bytes, but not 0x80 first: that is a pickle's first byte, refused as one (1 run in 256)
  const junk = randomBytes(64);
  junk[0] = 0x01;
  await handWritten(uniq('garbage'), base(junk), 'failed', /MalformedJobError: job data is not JSON/);
  await handWritten(uniq('zlib-not-json'), base(deflateSync('not json {')), 'failed', /MalformedJobError: job data is not JSON/);
  await handWritten(uniq('pickle'), base(PICKLE), 'failed', /MalformedJobError: job data is a Python pickle/);
  await handWritten(uniq('pickle-zlib'), base(deflateSync(PICKLE)), 'failed', /MalformedJobError: job data is a Python pickle/);
  await handWritten(uniq('shape'), base(deflateSync('[1, 2, 3]')), 'failed', /not a \[func, instance, args, kwargs\] array/);
  await handWritten(uniq('bound'), base(deflateSync('["fixtures.work", {"self": 1}, [], {}]')), 'failed', /bound method/);
  await handWritten(uniq('args'), base(deflateSync('["fixtures.work", null, {"a": 1}, {}]')), 'failed', /args is not a list/);
  await handWritten(uniq('kwargs'), base(deflateSync('["fixtures.work", null, [], null]')), 'failed', /kwargs is not an object/);
  await handWritten(uniq('bomb'), base(zlibBomb(5)), 'failed', /MalformedJobError: job data inflates to more than \d+ bytes/);
  await goodJob();
  // Unknown functions and wrong argument types, through the API.
  for (const [func, args, status, exc] of [
    ['nope.missing', [], 'failed', /No task registered as 'nope\.missing'/],
    ['fixtures.throwValue', [123], 'failed', /unknown kind 123/],
    ['fixtures.sleep', ['not a number'], 'finished', undefined],
    ['fixtures.block', [{ ms: 5 }], 'finished', undefined],
    ['fixtures.work', [tag, 'NaN', 'extra', { x: [null] }], 'finished', undefined],
  ] as const) {
    const j = await queue.enqueue(func, { args: [...args], retry: new Retry({ max: 1 }) });
    expected.set(j.id, [status]);
    if (exc) excs.set(j.id, exc);
    faults++;
  }
  // Huge payloads: 8 MiB of incompressible text, and a 100,000-element list.
  for (const big of [randomBytes(6 << 20).toString('base64'), Array.from({ length: 100_000 }, (_, i) => i)]) {
    const j = await queue.enqueue('fixtures.work', { args: [tag, 1, big] });
    expected.set(j.id, ['finished']);
    faults++;
  }
  await goodJob();
  // Ids no API would accept.
  const oddIds = ['sp ace', 'colon:in:id', 'uni-ℂ😀', 'new\nline', 'percent%s%d', 'x'.repeat(5000), 'glob*?[]{}', '', 'lua^$().%+-', `quote'"\\`, 'tab\tid', 'dot.dot/slash'];
  for (const id of oddIds) await handWritten(`${id}${tag.slice(-4)}`, base(ok()), 'finished');
  // Queue entries with no hash, and a job key of the wrong type between two good jobs in one dequeue.
  await fx.redis.rpush(`rq:queue:${q}`, uniq('ghost'), uniq('ghost'));
  faults += 2;
  await until(async () => (await fx.redis.llen(`rq:queue:${q}`)) === 0, 60_000);
  const wrongType = uniq('wrongtype');
  await fx.redis.set(`rq:job:${wrongType}`, 'not a hash');
  const [g1, g2] = [uniq('g1'), uniq('g2')];
  for (const id of [g1, g2]) {
    await fx.redis.hset(`rq:job:${id}`, base(ok()));
    expected.set(id, ['finished']);
    good.push(id);
  }
  await fx.redis.rpush(`rq:queue:${q}`, g1, wrongType, g2);
  faults++;

  // Issue 16: TTLs Redis refuses, written by another program. Three at a
  // time, so that at -c 3 their ends tend to share one complete.lua call.
  const unclear: string[] = [];
  for (const [field, value] of [['result_ttl', '99999999999999999'], ['result_ttl', '3600.5'], ['result_ttl', '1e400']] as const) {
    await handWritten(uniq('bad-ttl'), { ...base(ok(30)), [field]: value }, 'finished');
  }
  for (const value of ['3600.5', '99999999999999999', 'NaN']) {
    await handWritten(uniq('bad-fttl'), { ...base(encodeCall('fixtures.flaky', [tag], {})), failure_ttl: value }, 'failed', /designed to fail/);
  }
  await goodJob();
  // Injected dependency ids: refused by the API; a key of the wrong type among a parent's dependents is skipped.
  const refused = await queue.enqueue('fixtures.work', { args: [tag, 1], dependsOn: 'x:dependents' }).then(
    () => false,
    (e: Error) => /Invalid dependency id/.test(e.message),
  );
  if (!refused) unclear.push("dependsOn 'x:dependents' was accepted");
  const parentId = uniq('parent');
  const wrongDep = uniq('wrongdep');
  await fx.redis.set(`rq:job:${wrongDep}`, 'not a hash');
  await fx.redis.sadd(`rq:job:${parentId}:dependents`, wrongDep);
  const parent = await queue.enqueue('fixtures.work', { args: [tag, 5], jobId: parentId });
  const child = await queue.enqueue('fixtures.work', { args: [tag, 1], dependsOn: parent.id });
  for (const id of [parent.id, child.id]) {
    expected.set(id, ['finished']);
    good.push(id);
  }
  faults += 2;
  // A decoding bomb: 61 KiB of zlib holding [[],[],...] (about 60 MB of JSON) blocked the event loop for 14.5 s.
  const brackets = Buffer.alloc(20_000_000 * 3, '[],');
  await handWritten(
    uniq('json-bomb'),
    base(deflateSync(Buffer.concat([Buffer.from('["fixtures.work", null, [[]'), brackets.subarray(0, brackets.length - 1), Buffer.from('], {}]')]), { level: 9 })),
    'failed',
    /MalformedJobError: job data (holds more than \d+ arrays and objects|inflates to more than)/,
  );
  await goodJob();

  const end = await settle(fx.redis, [q], expected, 60_000);
  assert.deepEqual([...end.wrong].map(([id, s]) => `${JSON.stringify(id).slice(0, 40)}: ${s}`), [], 'jobs not in the expected end state');
  assert.equal(await fx.redis.type(`rq:job:${wrongType}`), 'string', 'the key of the wrong type is left alone');

  // Malformed pub/sub messages; then the worker must still take jobs, scheduled ones too.
  const garbage = ['not json', '42', 'null', '[]', '"str"', '{"command": 5}', '{"command": "stop-job"}', '{"command": "stop-job", "job_id": {"a": 1}}', '{"command": "explode"}', 'x'.repeat(1 << 20), '\u0000\uffff'];
  // Nested control messages, sent while a job runs: deeper than JSON.stringify can go, and small but nested.
  const running = await queue.enqueue('fixtures.work', { args: [tag, 2000] });
  expected.set(running.id, ['finished']);
  good.push(running.id);
  await until(async () => (await runsByJob(fx.redis, tag)).has(running.id), 30_000);
  garbage.push(`{"command": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`, `{"command": ${'['.repeat(2000)}${']'.repeat(2000)}, "job_id": ${'{"a":'.repeat(300)}1${'}'.repeat(300)}}`);
  for (const m of garbage) await fx.redis.publish(`rq:pubsub:${w.name}`, m);
  for (const m of ['NaN', '', '-1e309', 'Infinity']) await fx.redis.publish(`rq:scheduled-wake:${q}`, m);
  await fx.redis.publish(`rq:wake:${q}`, 'garbage');
  faults += garbage.length + 5;
  const later = await queue.enqueueIn(0.3, 'fixtures.work', { args: [tag, 1] });
  expected.set(later.id, ['finished']);
  good.push(later.id);
  await goodJob();

  // Malformed CLI arguments and cron configs, against the same Redis while the worker runs.
  const tmp = tempDir({ 'tasks.ts': 'export function add(a: number, b: number) { return a + b; }\n' });
  const cfg = (name: string, body: string) => tmp.write(name, `import { cron } from 'openvle-rq';\n${body}\n`);
  const url = fx.server.url;
  const cli: [string[], RegExp][] = [
    [['worker', '-u', url, '--burst', 'bad queue!'], /Invalid queue name 'bad queue!'/],
    [['worker', '-u', url, '--burst', '--concurrency', 'many', q], /concurrency|many/],
    [['worker', '-u', url, '--burst', '--dequeue-strategy', 'sideways', q], /sideways/],
    [['worker', '-u', url, '--burst', '--import', tmp.path('nope.ts'), q], /nope\.ts/],
    [['enqueue', '-u', url, '-q', q, 'tasks.add', ':{not json'], /json|JSON/],
    [['enqueue', '-u', url, '-q', q, 'tasks.add', '--retry-max', '2', '--retry-interval', 'soon'], /--retry-interval: 'soon'/],
    [['enqueue', '-u', url, '-q', q, 'tasks.add', '--schedule-at', 'tomorrow'], /--schedule-at: 'tomorrow'/],
    [['cron', cfg('syntax.ts', 'cron.register(('), '-u', url], /failed to load/],
    [['cron', cfg('minute.ts', `cron.register('tasks.add', { queueName: '${q}', cron: '61 * * * *' });`), '-u', url], /invalid cron expression '61 \* \* \* \*'/],
    [['cron', cfg('queue.ts', `cron.register('tasks.add', { queueName: 'no spaces', interval: 5 });`), '-u', url], /invalid queue name/],
    [['cron', cfg('interval.ts', `cron.register('tasks.add', { queueName: '${q}', interval: -5 });`), '-u', url], /invalid interval -5/],
    [['cron', cfg('throws.ts', 'throw 42;'), '-u', url], /failed to load/],
    [['cron', tmp.write('cron.json', '{"jobs": []}'), '-u', url], /\.ts, \.js or \.mjs/],
  ];
  const results: Result[] = await runMany(cli.map(([a]) => a), { cwd: tmp.dir, timeoutMs: 20_000 });
  tmp.remove();
  cli.forEach(([args, re], i) => {
    const r = results[i]!;
    const lines = r.stderr.split('\n').filter(Boolean);
    // 1 for an error, 2 for a usage error (a bad option value), as rq's exits
    if ((r.code !== 1 && r.code !== 2) || lines.length !== 1 || !re.test(lines[0]!) || /^\s+at /m.test(r.stderr)) {
      unclear.push(`${args.slice(0, 2).join(' ')} ${args.slice(-1)}: exit ${r.code}: ${r.stderr.slice(0, 300)}`);
    }
  });
  faults += cli.length;

  const end2 = await settle(fx.redis, [q], expected, 30_000);
  const wrongExc: string[] = [];
  for (const [id, re] of excs) {
    const exc = (await (await Job.fetch(fx.redis, id)).latestResult())?.excString ?? '';
    if (!re.test(exc)) wrongExc.push(`${id}: ${JSON.stringify(exc.slice(0, 200))}`);
  }
  const runs = await runsByJob(fx.redis, tag);
  const goodRuns = good.map((id) => runs.get(id)?.length ?? 0);
  const affected = goodRuns.filter((n) => n !== 1).length;
  // No job of this test is retried: any that started twice was handed back wrongly.
  const duplicated = [...runs.values()].filter((list) => list.length > 1).length;
  const stderr = w.stderr;
  summary('bad-input', {
    jobs: expected.size,
    faults,
    lost: end2.wrong.size,
    good_jobs_affected: affected,
    unclear_errors: wrongExc.length + unclear.length,
    cli_cases: cli.length,
    worker_exits: w.exited ? 1 : 0,
    duplicated,
  });
  assert.deepEqual([...end2.wrong], [], 'jobs not in the expected end state');
  assert.ok(end2.ok, `left in flight: ${JSON.stringify(end2.left)}`);
  assert.deepEqual(wrongExc, [], 'failures stored without a clear error');
  assert.deepEqual(unclear, [], 'CLI errors that are not one clear line');
  assert.equal(affected, 0, `good jobs ran ${goodRuns.join(',')} times`);
  assert.equal(duplicated, 0, 'jobs that ran twice');
  assert.equal(w.exited, false, `the worker exited:\n${stderr.slice(-3000)}`);
  assert.match(stderr, /ignoring malformed command/);
  assert.doesNotMatch(stderr, /dequeue failed/, 'a dequeue script failed on the bad input');
  await w.stop();
});
