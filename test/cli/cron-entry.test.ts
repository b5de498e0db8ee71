// The cron registry's validation and fire-time arithmetic (no Redis needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CronRegistry } from '../../src/index.js';

const T = (iso: string) => Date.parse(iso);

test('cron expressions are read in UTC unless a time zone is given; 6 fields have seconds first', () => {
  const reg = new CronRegistry();
  const utc = reg.register('tasks.a', { queueName: 'q', cron: '0 12 * * *' });
  assert.equal(utc.cronAfter(T('2026-03-01T11:00:00Z')), T('2026-03-01T12:00:00Z'));
  const paris = reg.register('tasks.a', { queueName: 'q', cron: '0 12 * * *', tz: 'Europe/Paris' });
  assert.equal(paris.cronAfter(T('2026-03-01T10:00:00Z')), T('2026-03-01T11:00:00Z'));
  // Summer time: noon in Paris is 10:00 UTC.
  assert.equal(paris.cronAfter(T('2026-07-01T00:00:00Z')), T('2026-07-01T10:00:00Z'));
  const secs = reg.register('tasks.a', { queueName: 'q', cron: '*/15 * * * * *' });
  assert.equal(secs.cronAfter(T('2026-03-01T11:00:07Z')), T('2026-03-01T11:00:15Z'));
  assert.equal(secs.croniterExpression, '* * * * * */15');
  assert.equal(utc.croniterExpression, '0 12 * * *');
  assert.deepEqual(reg.entries().map((e) => e.index), [1, 2, 3]);
});

test('interval fire times stay on the grid of the first one', () => {
  const e = new CronRegistry().register('tasks.a', { queueName: 'q', interval: 10 });
  const t0 = T('2026-03-01T11:00:00.250Z');
  assert.equal(e.nextAfter(t0), t0 + 10_000);
  // Catching up after 35 s: the next grid point after now, not now + 10 s.
  assert.equal(e.firstAfter(t0, t0 + 35_000), t0 + 40_000);
  assert.equal(e.firstAfter(t0, t0 + 40_000), t0 + 50_000);
  assert.equal(e.firstAfter(t0, t0 + 1), t0 + 10_000);
});

test('registration checks every option and names the entry', () => {
  const reg = new CronRegistry();
  const bad: Array<[unknown, unknown, RegExp]> = [
    ['tasks.a', { queueName: 'q' }, /#1 'tasks\.a': give exactly one of interval/],
    ['tasks.a', { queueName: 'q', cron: '* * * * *', tz: 'Nowhere/Land' }, /time zone 'Nowhere\/Land'/],
    ['tasks.a', { queueName: 'q', interval: 5, tz: 'UTC' }, /tz applies to cron expressions only/],
    ['tasks.a', { queueName: 'q', interval: 5, jobTimeout: 'soon' }, /invalid jobTimeout/],
    ['tasks.a', { queueName: 'q', interval: 5, resultTtl: 1.5 }, /resultTtl must be an integer/],
    ['tasks.a', { queueName: 'q', interval: 5, ttl: 0 }, /ttl must be an integer >= 1/],
    ['tasks.a', { queueName: 'q', interval: 5, meta: [] }, /meta must be an object/],
    ['tasks.a', { queueName: 'q', interval: 5, catchUp: 'sometimes' }, /invalid catchUp "sometimes"/],
    ['tasks.a', { queueName: 'q', interval: 5, name: '' }, /name must be a non-empty string/],
    ['', { queueName: 'q', interval: 5 }, /the function name is empty/],
    ['tasks.a', undefined, /invalid queue name/],
  ];
  for (const [f, o, re] of bad) assert.throws(() => reg.register(f as string, o as never), re);
  assert.equal(reg.entries().length, 0);
  const named = Object.assign(() => 1, { taskName: 'tasks.named' });
  assert.equal(reg.register(named, { queueName: 'q', interval: 1 }).funcName, 'tasks.named');
  const anon = reg.register(function local() {}, { queueName: 'q', interval: 1 });
  assert.throws(() => anon.funcName, /#2 'local': cannot tell the task name/);
  anon.resolveFunc('mod.local');
  assert.equal(anon.name, 'mod.local');
});
