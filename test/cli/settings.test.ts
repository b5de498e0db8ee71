// rq's -c/--config: a settings module with rq's names (REDIS_URL, QUEUES, NAME) and an application description.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Job, Queue } from '../../src/index.js';
import { until } from '../helpers/util.js';
import { Cli, cliRedis, run, tempDir } from './helpers.js';

const tmp = tempDir();
const fx = cliRedis(() => tmp.remove());

describe('-c/--config settings module', () => {
  test("REDIS_URL, QUEUES and NAME are used; the module's app runs its tasks, setup, attach and queue retry", async () => {
    const settings = tmp.write(
      'settings.ts',
      `import { defineApp } from 'openvle-rq';
export const REDIS_URL = ${JSON.stringify(`${fx.url}/2`)};
export const QUEUES = ['s_high', 's_low'];
export const NAME = 'from-settings';
let calls = 0;
export default defineApp({
  name: 'demo',
  tasks: {
    'demo.add': (a: number, b: number) => a + b,
    'demo.flaky': () => { if (++calls < 2) throw new Error('once'); return 'second'; },
  },
  queueRetry: { s_low: { max: 1, intervals: 0 } },
  setup: ({ log }) => ({
    attach: (w) => w.on('job-finished', (job) => log.info('attached saw ' + job.id)),
  }),
});
`,
    );
    const cli = new Cli(['worker', '-c', settings]);
    await cli.waitFor(/Listening on s_high, s_low/, 30_000);
    const { createRedis } = await import('../../src/index.js');
    const redis = createRedis(`${fx.url}/2`);
    try {
      const a = await new Queue('s_high', redis).enqueue('demo.add', { args: [2, 3] });
      const b = await new Queue('s_low', redis).enqueue('demo.flaky');
      await until(async () => (await redis.hget(`rq:job:${b.id}`, 'status')) === 'finished', 20_000);
      assert.equal(await (await Job.fetch(redis, a.id)).returnValue(), 5);
      assert.equal(await (await Job.fetch(redis, b.id)).returnValue(), 'second');
      assert.equal(await redis.hget(`rq:job:${b.id}`, 'retries_left'), '0', 'the queue default retry applied');
      assert.equal(await redis.exists('rq:worker:from-settings'), 1);
      await cli.waitFor(new RegExp(`attached saw ${b.id}`), 10_000);
    } finally {
      redis.disconnect();
      await cli.stop();
    }
  });

  test('flags win over the settings; a bad settings module is one line, exit 1', async () => {
    const s = tmp.write('plain.mjs', `export const REDIS_URL = 'redis://127.0.0.1:1/0';\nexport const QUEUES = ['x'];\n`);
    const r = await run(['worker', '--burst', '-c', s, '-u', fx.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /Listening on x/);
    const bad = tmp.write('bad.mjs', `export const QUEUES = 'x';\n`);
    const r2 = await run(['worker', '--burst', '-c', bad, '-u', fx.url]);
    assert.equal(r2.code, 1);
    assert.equal(r2.stderr.trim(), `error: settings module '${bad}': QUEUES must be a list of queue names`);
    const notApp = tmp.write('notapp.mjs', `export default { name: 'x' };\n`);
    const r3 = await run(['worker', '--burst', '-c', notApp, '-u', fx.url]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /is not an application description \(use defineApp/);
    const r4 = await run(['worker', '--burst', '-c', tmp.path('missing.ts'), '-u', fx.url]);
    assert.equal(r4.code, 1);
    assert.match(r4.stderr, /settings module .* not found/);
  });
});
