// RQ fidelity, round two (issue 15), at the command line: what `openvle-rq
// enqueue` stores is compared with what Debian's Python RQ 1.13 `rq enqueue
// -S rq.serializers.JSONSerializer` stores for the same arguments.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { uniq } from '../helpers/util.js';
import { cliRedis, rqCli, run, runMany, tempDir, TASKS_TS } from './helpers.js';

describe('enqueue keeps numbers as RQ does', () => {
  const fx = cliRedis();

  async function data(id: string): Promise<string> {
    const raw = await fx.redis.hgetBuffer(`rq:job:${id}`, 'data');
    assert.ok(raw, `job ${id} has data`);
    return inflateSync(raw).toString('utf8');
  }

  test("floats stay floats and integers stay exact: ':1.0' '%2.0' 'k:=[1.0,1e2]' ':12345678901234567890'", async () => {
    const argv = ['tasks.echo', ':1.0', '%2.0', 'k:=[1.0,1e2]', ':12345678901234567890', '%(1, 2.5)', "%{'a': 3.0}"];
    const ours = uniq('ours');
    const theirs = uniq('py');
    const r = await run(['enqueue', '-u', fx.url, '--job-id', ours, ...argv]);
    assert.equal(r.code, 0, r.stderr);
    const p = await rqCli(['enqueue', '-u', fx.url, '-S', 'rq.serializers.JSONSerializer', '--job-id', theirs, ...argv]);
    assert.equal(p.code, 0, p.stderr);
    const expected = '["tasks.echo", null, [1.0, 2.0, 12345678901234567890, [1, 2.5], {"a": 3.0}], {"k": [1.0, 100.0]}]';
    assert.equal(await data(theirs), expected, 'Python RQ 1.13 stores');
    assert.equal(await data(ours), expected);
    // and the description, as RQ's get_call_string writes it
    assert.equal(
      await fx.redis.hget(`rq:job:${ours}`, 'description'),
      await fx.redis.hget(`rq:job:${theirs}`, 'description'),
    );
  });
});

describe("rq's flags and exits", () => {
  const tmp = tempDir({ 'tasks.ts': TASKS_TS });
  const fx = cliRedis(() => tmp.remove());

  test('-S/--serializer: JSON in its rq spellings is accepted by every command; any other is a clear usage error', async () => {
    const ok = await runMany([
      ['info', '-S', 'json', '-u', fx.url],
      ['info', '--serializer', 'rq.serializers.JSONSerializer', '-u', fx.url],
      ['enqueue', '-S', 'json', 'tasks.add', ':1', ':2', '-u', fx.url],
      ['empty', '-S', 'json', 'default', '-u', fx.url],
      ['requeue', '-S', 'json', '--queue', 'default', '--all', '-u', fx.url],
      ['worker', '-b', '-S', 'json', '--import', tmp.path('tasks.ts'), '-u', fx.url],
    ]);
    for (const r of ok) assert.equal(r.code, 0, r.stderr);
    // one after the other: a suspension would stop the workers above
    for (const c of ['suspend', 'resume']) {
      const r = await run([c, '-S', 'json', '-u', fx.url]);
      assert.equal(r.code, 0, r.stderr);
    }
    const bad = await run(['worker', '-b', '-S', 'pickle', '-u', fx.url]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /^error: .*-S, --serializer.*only the JSON serializer is supported.*'pickle'/);
  });

  test('-w, -j, -d, --exception-handler: one line naming the option, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['worker', '-b', '-w', 'rq.SimpleWorker'], 'worker-class'],
      [['info', '-j', 'my.Job'], 'job-class'],
      [['worker', '-b', '-d'], 'disable-default-exception-handler'],
      [['worker', '-b', '--exception-handler', 'my.handler'], 'exception-handler'],
    ];
    const results = await runMany(cases.map(([a]) => [...a, '-u', fx.url]));
    cases.forEach(([args, name], i) => {
      const r = results[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: option '--${name}' is not supported: `));
    });
  });

  test('-P finds a relative --import module; --date-format sets the log time format', async () => {
    const r = await run(['worker', '-b', '-P', tmp.dir, '--import', 'tasks.ts', '--date-format', '%Y-%m-%d %H:%M:%S', '-u', fx.url], { cwd: '/' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} Worker rq:worker:/m);
    const bad = await run(['worker', '-b', '--date-format', '%Q', '--import', tmp.path('tasks.ts'), '-u', fx.url]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^error: --date-format: unsupported date format directive '%Q'/);
  });

  test('usage errors exit 2 and info -r -W with no workers prints nothing, as Python RQ', async () => {
    const [ours, theirs] = await Promise.all([run(['info', '--no-such-flag']), rqCli(['info', '--no-such-flag'])]);
    assert.equal(theirs.code, 2);
    assert.equal(ours.code, theirs.code);
    const [o, p] = await Promise.all([run(['info', '-r', '-W', '-u', fx.url]), rqCli(['info', '-r', '-W', '-u', fx.url])]);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(p.stdout, '');
    assert.equal(o.stdout, p.stdout);
  });
});
