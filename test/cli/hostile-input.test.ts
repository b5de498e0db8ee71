// Issue 16, the command line: bounded TTLs, validated dependency ids, no
// file contents or secrets in descriptions and logs, redacted URLs, a
// --pid file that follows no link, and no stray tsconfig.json honoured.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConnectionConfigError } from '../../src/engine/connection.js';
import { keys, Queue, redactUrl, createRedis } from '../../src/index.js';
import { uniq } from '../helpers/util.js';
import { run, tempDir, TASKS_TS, cliRedis } from './helpers.js';

describe('openvle-rq and hostile input', () => {
  const tmp = tempDir({ 'tasks.ts': TASKS_TS });
  const fx = cliRedis(() => tmp.remove());

  test('enqueue refuses TTLs and timeouts past the bound and dependency ids that are not job ids, queueing nothing', async () => {
    const q = uniq('q');
    for (const [flags, re] of [
      [['--result-ttl', '99999999999999999'], /--result-ttl/],
      [['--failure-ttl', '99999999999d'], /--failure-ttl/],
      [['--timeout', '400000000'], /--timeout/],
      [['--depends-on', 'P:dependents'], /Invalid dependency id 'P:dependents'/],
    ] as const) {
      const r = await run(['enqueue', '-u', fx.url, '-q', q, 'tasks.add', ...flags]);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(r.code, 1, `${flags.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, re);
    }
    assert.equal(await fx.redis.llen(keys.queue(q)), 0);
  });

  test('enqueue neither prints nor stores @file contents or secret keyword values; the worker logs task name and id', async () => {
    const q = uniq('q');
    const pw = tmp.write('pve_pw.txt', 'S3cr3t-from-file');
    const r = await run(['enqueue', '-u', fx.url, '-q', q, 'tasks.hello', `name=@${pw}`, 'api_token=T0k3n-inline', '--job-id', uniq('j')]);
    assert.equal(r.code, 0, r.stderr);
    const [id] = await fx.redis.lrange(keys.queue(q), 0, -1);
    const desc = (await fx.redis.hget(keys.job(id!), 'description'))!;
    for (const text of [r.stdout, desc]) {
      assert.doesNotMatch(text, /S3cr3t-from-file|T0k3n-inline/);
      assert.match(text, /name=@.*pve_pw\.txt/);
    }
    const w = await run(['worker', q, '-b', '--import', tmp.path('tasks.ts'), '-u', fx.url], { cwd: tmp.dir });
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, new RegExp(`${q}: tasks\\.hello \\(${id}\\)`));
    assert.doesNotMatch(w.stdout + w.stderr, /S3cr3t-from-file|T0k3n-inline|api_token/);
    const job = await new Queue(q, fx.redis).fetchJob(id!);
    assert.equal(job?.status, 'finished');
  });

  test('redactUrl hides the whole password and never echoes an invalid URL', () => {
    for (const url of ['redis://admin:S3cr@t-pw@127.0.0.1:6379/0', 'redis://:S3cr@t-pw@127.0.0.1', 'rediss://u:S3cr%40t-pw@h:1/2']) {
      const shown = redactUrl(url);
      assert.doesNotMatch(shown, /S3cr|t-pw/, shown);
      assert.match(shown, /\*\*\*/);
    }
    assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
    for (const bad of ['redis://admin:S3cr@t-pw@host:notaport', 'http://u:S3cr@t-pw@host', 'redis://u:S3cr@t-pw@host/db!']) {
      assert.throws(
        () => createRedis(bad),
        (e: Error) => e instanceof ConnectionConfigError && !/S3cr|t-pw/.test(e.message),
      );
    }
  });

  test('--pid refuses a symbolic link and the pid file is removed at exit', async () => {
    const q = uniq('q');
    const target = tmp.write('precious.txt', 'keep me');
    const link = join(tmp.dir, 'link.pid');
    symlinkSync(target, link);
    const r = await run(['worker', q, '-b', '--pid', link, '--import', tmp.path('tasks.ts'), '-u', fx.url], { cwd: tmp.dir });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /--pid/);
    assert.equal(readFileSync(target, 'utf8'), 'keep me');
    const pidFile = join(tmp.dir, 'w.pid');
    const ok = await run(['worker', q, '-b', '--pid', pidFile, '--import', tmp.path('tasks.ts'), '-u', fx.url], { cwd: tmp.dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(existsSync(pidFile), false, 'the pid file is removed at exit');
  });

  test('a tsconfig.json in the working directory does not redirect imports of task modules', async () => {
    const dir = tempDir({
      'tsconfig.json': JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { 'lib/*': ['evil/*'] } } }),
      'tasks.ts': "import { helper } from 'lib/helper';\nexport function add(a: number, b: number) { return helper(a + b); }\n",
    });
    mkdirSync(join(dir.dir, 'evil'));
    const marker = join(dir.dir, 'evil-ran');
    writeFileSync(join(dir.dir, 'evil', 'helper.ts'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'x');\nexport const helper = (x: number) => x;\n`);
    const r = await run(['worker', uniq('q'), '-b', '--import', join(dir.dir, 'tasks.ts'), '-u', fx.url], { cwd: dir.dir });
    const ran = existsSync(marker);
    dir.remove();
    assert.equal(ran, false, 'the module a stray tsconfig mapped in was loaded');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /Cannot find package 'lib'|lib\/helper/);
  });
});


