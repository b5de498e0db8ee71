// Application descriptions (defineApp): checked at definition, set up for the workers of their queues.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appRole, appServes, AppConfigError, defineApp, isApp, startApp, TaskRegistry, silentLogger, type Worker } from '../../src/index.js';

test('defineApp checks names, roles and tasks; owned queues default to the roles and retries', () => {
  const app = defineApp({
    name: 'demo',
    tasks: { 'demo.add': (a: number, b: number) => a + b },
    roles: { web: { queues: ['high', 'low'], concurrency: 2 }, cronner: { queues: [], cron: true } },
    queueRetry: { mail: { max: 2, intervals: [1] } },
    cron: '/x/schedule.ts',
  });
  assert.ok(isApp(app));
  assert.ok(!isApp({ name: 'x' }));
  assert.deepEqual([...app.queues].sort(), ['high', 'low', 'mail']);
  assert.ok(appServes(app, ['default', 'low']));
  assert.ok(!appServes(app, ['default']));
  assert.equal(appRole(app, 'WEB').name, 'web');
  assert.throws(() => appRole(app, 'nope'), /^UnknownRoleError: Unknown role 'nope': use one of web, cronner$/);
  assert.throws(() => defineApp({ name: '' }), AppConfigError);
  assert.throws(() => defineApp({ name: 'x', tasks: { add: () => 1 } }), /Invalid task name 'add'/);
  assert.throws(() => defineApp({ name: 'x', roles: { r: { queues: ['bad queue'] } } }), /invalid queue name/);
  assert.throws(() => defineApp({ name: 'x', roles: { r: { queues: [], cron: true } } }), /no cron config/);
  assert.throws(() => defineApp({ name: 'x', roles: { r: { queues: ['a'], concurrency: 0 } } }), /concurrency/);
  // no queues named at all: the application owns every queue
  assert.ok(appServes(defineApp({ name: 'all', tasks: { 't.x': () => 1 } }), ['anything']));
});

test('startApp registers static then set-up tasks (which may wrap earlier ones), merges retries, attaches and closes', async () => {
  const seen: string[] = [];
  const app = defineApp({
    name: 'demo',
    queues: ['q'],
    tasks: { 'demo.one': () => 1 },
    queueRetry: { q: { max: 1, intervals: 0 }, r: { max: 2, intervals: 0 } },
    setup: ({ queues }) => {
      seen.push(`setup ${queues.join(',')}`);
      return {
        register: (reg) => {
          const inner = reg.get('mod.x');
          reg.register('mod.x', () => `wrapped ${String(inner())}`);
          reg.register('demo.two', () => 2);
        },
        queueRetry: { q: { max: 5, intervals: [3] } },
        attach: () => seen.push('attach'),
        close: async () => {
          seen.push('close');
        },
      };
    },
  });
  const reg = new TaskRegistry().register('mod.x', () => 'x');
  const started = await startApp(app, reg, { connection: undefined as never, log: silentLogger, queues: ['q'] });
  assert.deepEqual(reg.names(), ['demo.one', 'demo.two', 'mod.x']);
  assert.equal(reg.get('mod.x')(), 'wrapped x');
  assert.deepEqual(started.queueRetry, { q: { max: 5, intervals: [3] }, r: { max: 2, intervals: 0 } });
  started.attach({} as Worker);
  await started.close();
  assert.deepEqual(seen, ['setup q', 'attach', 'close']);
});
