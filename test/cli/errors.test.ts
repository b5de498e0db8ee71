// Error paths and help: every failure is one line on stderr and a non-zero
// exit, never a stack trace; --help works for every command.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisServer } from '../helpers/redis.js';
import { uniq } from '../helpers/util.js';
import { killAll, run, runMany, tempDir, type Result } from './helpers.js';

const COMMANDS: Record<string, string[]> = {
  worker: ['-b'],
  info: [],
  enqueue: ['tasks.add'],
  requeue: ['--queue', 'q', '--all'],
  empty: ['--all'],
  suspend: [],
  resume: [],
  cron: ['CONFIG'],
};

/** A one-line error; usage errors (commander's: bad flag, argument) exit 2 as rq's, others 1. */
function oneLineError(r: Result, what: string, re?: RegExp, code = 1): void {
  assert.notEqual(r.code, 0, `${what}: exit 0\n${r.stdout}${r.stderr}`);
  assert.equal(r.code, code, `${what}: exit ${r.code}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `${what}: stderr is not one line:\n${r.stderr}`);
  assert.match(lines[0]!, /^error: /, what);
  assert.doesNotMatch(r.stderr, /^\s+at |Error: .*\n\s+at /m, what);
  if (re) assert.match(lines[0]!, re, what);
}

describe('errors and help', () => {
  let server: RedisServer;
  let secured: RedisServer;
  const tmp = tempDir({
    'tasks.ts': 'export function add(a: number, b: number) { return a + b; }\nexport const helper = () => 1;\n',
  });
  const cfg = (name: string, body: string) => tmp.write(name, `import { cron } from 'openvle-rq';\n${body}\n`);

  before(async () => {
    server = await RedisServer.start();
    // Passwords set after the start (the helper's readiness probe has none).
    secured = await RedisServer.start();
    const admin = new Redis(secured.port, '127.0.0.1');
    await admin.acl('SETUSER', 'alice', 'on', '>pw', '~*', '&*', '+@all');
    await admin.config('SET', 'requirepass', 'sekret');
    admin.disconnect();
  });
  after(async () => {
    await killAll();
    await Promise.all([server.destroy(), secured.destroy()]);
    tmp.remove();
  });

  test('--help for every command: usage, -u/--url, exit 0', async () => {
    const results = await runMany([[], ...Object.keys(COMMANDS).map((c) => [c])].map((c) => [...c, '--help']));
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: openvle-rq/);
    }
    for (const r of results.slice(1)) assert.match(r.stdout, /-u, --url <url>/);
    const top = results[0]!.stdout;
    for (const c of Object.keys(COMMANDS)) assert.match(top, new RegExp(`^  ${c} `, 'm'));
  });

  test('a bad flag, an unknown command, a missing argument: usage errors, exit 2 as rq', async () => {
    const cases: Array<[string[], RegExp]> = [
      ...Object.keys(COMMANDS).map((c): [string[], RegExp] => [[c, ...COMMANDS[c]!, '--no-such-flag'], /unknown option '--no-such-flag'/]),
      [['worker', '--burts'], /unknown option '--burts'.*Did you mean --burst\?/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['enqueue'], /missing required argument 'function'/],
      [['cron'], /missing required argument 'config'/],
      [['info', '-i', 'soon'], /argument 'soon' is invalid/],
      [['worker', '--max-jobs', '-3'], /--max-jobs/],
    ];
    const results = await runMany(cases.map(([args]) => args));
    cases.forEach(([args, re], i) => oneLineError(results[i]!, args.join(' '), re, 2));
  });

  test('a bad URL and an unreachable Redis, for every command', async () => {
    const cfgFile = cfg('ok.ts', "cron.register('tasks.add', { queueName: 'q', interval: 60 });");
    const withArgs = (c: string) => COMMANDS[c]!.map((a) => (a === 'CONFIG' ? cfgFile : a));
    const cases: Array<[string[], RegExp]> = [];
    for (const c of Object.keys(COMMANDS)) {
      // One URL check serves every command; three of them here.
      if (['worker', 'info', 'cron'].includes(c)) cases.push([[c, ...withArgs(c), '-u', 'http://127.0.0.1:6379'], /Invalid Redis URL 'http:\/\/127\.0\.0\.1:6379'/]);
      // The password never shows.
      cases.push([[c, ...withArgs(c), '-u', 'redis://user:hunter2@127.0.0.1:1'], /^error: Cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED/]);
    }
    cases.push([['info', '-u', 'redis://127.0.0.1:6379/notadb'], /Invalid Redis URL 'redis:\/\/127\.0\.0\.1:6379\/notadb': bad db 'notadb'/]);
    const results = await runMany(cases.map(([args]) => args), { timeoutMs: 15_000 });
    cases.forEach(([args, re], i) => {
      oneLineError(results[i]!, args.join(' '), re);
      assert.doesNotMatch(results[i]!.stderr, /hunter2/);
    });
    // From the environment too.
    oneLineError(await run(['info'], { env: { RQ_REDIS_URL: 'redis://127.0.0.1:1' } }), 'RQ_REDIS_URL', /Cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  test('a password or an ACL user in the URL', async () => {
    const port = secured.port;
    let r = await run(['info', '-Q', '-u', `redis://:sekret@127.0.0.1:${port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '0 queues, 0 jobs total\n');
    r = await run(['info', '-Q', '-u', `redis://alice:pw@127.0.0.1:${port}/0`]);
    assert.equal(r.code, 0, r.stderr);
    oneLineError(await run(['info', '-u', `redis://:wrong@127.0.0.1:${port}`]), 'wrong password', /WRONGPASS/);
    oneLineError(await run(['resume', '-u', `redis://127.0.0.1:${port}`]), 'no password', /NOAUTH/);
  });

  test('a bad cron config stops the command with a message naming the entry', async () => {
    const url = server.url;
    const q = uniq('cq');
    const cases: Array<[string, RegExp]> = [
      [cfg('expr.ts', `cron.register('tasks.add', { queueName: '${q}', cron: '* * * *' });\ncron.register('tasks.add', { queueName: '${q}', cron: '61 * * * *', name: 'bad-minute' });`), /cron entry #1 'tasks\.add': invalid cron expression '\* \* \* \*'/],
      [cfg('expr2.ts', `cron.register('tasks.add', { queueName: '${q}', interval: 5 });\ncron.register('tasks.add', { queueName: '${q}', cron: '61 * * * *', name: 'bad-minute' });`), /cron entry #2 'bad-minute': invalid cron expression '61 \* \* \* \*'.*61/],
      [cfg('tz.ts', `cron.register('tasks.add', { queueName: '${q}', cron: '0 12 * * *', tz: 'Mars/Olympus' });`), /cron entry #1 'tasks\.add': invalid cron expression .* in time zone 'Mars\/Olympus'/],
      [cfg('queue.ts', `cron.register('tasks.add', { queueName: 'no spaces allowed', interval: 5 });`), /cron entry #1 'tasks\.add': invalid queue name "no spaces allowed"/],
      [cfg('both.ts', `cron.register('tasks.add', { queueName: '${q}', interval: 5, cron: '* * * * *' });`), /cron entry #1 'tasks\.add': give exactly one of interval/],
      [cfg('neither.ts', `cron.register('tasks.add', { queueName: '${q}', name: 'nothing' });`), /cron entry #1 'nothing': give exactly one of interval/],
      [cfg('interval.ts', `cron.register('tasks.add', { queueName: '${q}', interval: -1 });`), /cron entry #1 'tasks\.add': invalid interval -1/],
      [cfg('args.ts', `cron.register('tasks.add', { queueName: '${q}', interval: 5, args: [new Map()] });`), /cron entry #1 'tasks\.add': args and kwargs must be JSON-serializable/],
      [cfg('throws.ts', `throw new Error('config exploded');`), /cron config '.*throws\.ts' failed to load: config exploded/],
      [cfg('syntax.ts', `cron.register('tasks.add', { queueName: ;`), /cron config '.*syntax\.ts' failed to load/],
      [cfg('empty.ts', ''), /registers no jobs/],
      [cfg('anon.ts', `cron.register((a: number) => a, { queueName: '${q}', interval: 5 });`), /cron entry #1: cannot tell the task name of this function/],
      [cfg('badfn.ts', `cron.register(42 as never, { queueName: '${q}', interval: 5 });`), /cron entry #1: the first argument must be a function or a task name/],
      [tmp.path('missing.ts'), /cron config '.*missing\.ts' not found/],
      [tmp.write('config.py', 'x = 1\n'), /must be a \.ts, \.js or \.mjs file/],
    ];
    const results = await runMany(cases.map(([file]) => ['cron', file, '-u', url]), { cwd: tmp.dir, timeoutMs: 15_000 });
    cases.forEach(([file, re], i) => oneLineError(results[i]!, file, re));
    // Nothing was enqueued by any of them.
    const r = await run(['info', '--json', '-u', url, q]);
    assert.equal((JSON.parse(r.stdout) as { total_jobs: number }).total_jobs, 0);
  });

  test('a config naming its tasks by function: exported from a task module, in a .mjs config too', async () => {
    const url = server.url;
    const q = uniq('cfn');
    tmp.write('fnconfig.mjs', `import { cron } from 'openvle-rq';\nimport { add } from './tasks.ts';\ncron.register(add, { queueName: '${q}', interval: 3600 });\n`);
    const { Cli } = await import('./helpers.js');
    const c = new Cli(['cron', tmp.path('fnconfig.mjs'), '-u', url], { cwd: tmp.dir });
    await c.waitFor(/Enqueued job tasks\.add to queue/);
    const r = await c.stop('SIGTERM');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Registered 'tasks\.add' to run on .* every 3600 seconds/);
  });
});
