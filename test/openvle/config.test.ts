import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, type EnvReader } from '../../src/openvle/config/env.js';
import { OPENVLE_SECTIONS, describeConfig, loadConfig } from '../../src/openvle/config/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

test('defaults when nothing is set', () => {
  const c = loadConfig({});
  assert.deepEqual(c.mariadb, { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'openvle', source: 'MARIADB_*' });
  assert.deepEqual(c.mongodb, { url: undefined });
  assert.deepEqual(c.worker, {
    role: undefined,
    maxRetry: 5,
    pvePeriodicInterval: 60,
    eventsStartPrepTimeDays: 7,
    eventsEndPrepTimeDays: 7,
    mailMaxAgeWeeks: 4,
  });
});

test('values as OpenVLE .env files write them (double-quoted)', () => {
  const c = loadConfig({
    MARIADB_HOST: '"db"',
    MARIADB_PORT: '"3307"',
    MARIADB_USER: '"openvle"',
    MARIADB_PASSWORD: '"s3cret-pw"',
    MARIADB_DATABASE: '"vle"',
    MONGODB_URL: 'mongodb://u:p@mongo:27017/openvle',
    SERVICE_ROLE: '"worker-vm-clone"',
    WORKER_MAX_RETRY: '"2"',
    WORKER_PVE_PERIODIC_INTERVAL: '30',
    EVENTS_START_PREP_TIME_DAYS: '3',
    EVENTS_END_PREP_TIME_DAYS: '0',
    MAIL_MAX_AGE_WEEKS: '8',
  });
  assert.deepEqual(c.mariadb, { host: 'db', port: 3307, user: 'openvle', password: 's3cret-pw', database: 'vle', source: 'MARIADB_*' });
  assert.equal(c.worker.role, 'worker-vm-clone');
  assert.equal(c.worker.maxRetry, 2);
  assert.equal(c.worker.pvePeriodicInterval, 30);
  assert.equal(c.worker.eventsEndPrepTimeDays, 0);
  assert.equal(c.worker.mailMaxAgeWeeks, 8);
  assert.equal(c.mongodb.url, 'mongodb://u:p@mongo:27017/openvle');
});

test('DATABASE_URL overrides every MARIADB_* variable', () => {
  const c = loadConfig({ MARIADB_HOST: 'ignored', MARIADB_PORT: 'not-even-a-number', DATABASE_URL: 'mysql://vle%40x:p%3Ass@db.internal:3310/openvle_prod' });
  assert.deepEqual(c.mariadb, { host: 'db.internal', port: 3310, user: 'vle@x', password: 'p:ss', database: 'openvle_prod', source: 'DATABASE_URL' });
});

test('every bad value is one line, all at once, and no secret is echoed', () => {
  const p = problems({
    DATABASE_URL: 'postgres://u:hunter22@h/db',
    MONGODB_URL: 'http://u:mongopass@x',
    SERVICE_ROLE: 'backend',
    WORKER_MAX_RETRY: 'five',
    WORKER_PVE_PERIODIC_INTERVAL: '0',
    EVENTS_START_PREP_TIME_DAYS: '-1',
    MAIL_MAX_AGE_WEEKS: '1.5',
  });
  assert.equal(p.length, 7, p.join('\n'));
  for (const line of p) assert.ok(!line.includes('\n'));
  const text = p.join('\n');
  for (const name of ['DATABASE_URL', 'MONGODB_URL', 'SERVICE_ROLE', 'WORKER_MAX_RETRY', 'WORKER_PVE_PERIODIC_INTERVAL', 'EVENTS_START_PREP_TIME_DAYS', 'MAIL_MAX_AGE_WEEKS']) {
    assert.match(text, new RegExp(`^${name} `, 'm'));
  }
  assert.doesNotMatch(text, /hunter22|mongopass/);
  assert.match(text, /SERVICE_ROLE must be one of worker, worker-vm-clone, worker-periodic, worker-all, scheduler \(got 'backend'\)/);
  assert.deepEqual(problems({ DATABASE_URL: 'mysql://root@db' }), ['DATABASE_URL must name a database: mysql://user:password@host:port/database']);
  assert.deepEqual(problems({ DATABASE_URL: 'not a url' }), ['DATABASE_URL must look like mysql://user:password@host:port/database']);
});

test('describeConfig masks secrets and shows the rest', () => {
  const lines = describeConfig(loadConfig({ MARIADB_PASSWORD: 'pw-value-1', MONGODB_URL: 'mongodb://u:mongo-pw@m:27017/x', SERVICE_ROLE: 'worker' }));
  const text = lines.join('\n');
  assert.doesNotMatch(text, /pw-value-1|mongo-pw/);
  assert.ok(lines.includes('mariadb.password = ***'));
  assert.ok(lines.includes('mariadb.host = 127.0.0.1'));
  assert.ok(lines.includes('worker.role = worker'));
  assert.ok(lines.includes('worker.maxRetry = 5'));
  assert.ok(lines.some((l) => l.startsWith('mongodb.url = mongodb://u:***@m:27017')));
  assert.ok(describeConfig(loadConfig({})).includes('mariadb.password = (unset)'));
});

test('a client section joins with one entry, its problems listed with the others', () => {
  const sections = {
    ...OPENVLE_SECTIONS,
    smtp: {
      fromEnv: (r: EnvReader) => ({ host: r.required('SMTP_HOST'), password: r.string('SMTP_PASSWORD') }),
      describe: (v: { host: string; password: string | undefined }) => ({ host: v.host, password: v.password ? '***' : '(unset)' }),
    },
  };
  const c = loadConfig({ SMTP_HOST: 'mail', SMTP_PASSWORD: 'x' }, sections);
  assert.equal(c.smtp.host, 'mail');
  assert.equal(c.worker.maxRetry, 5);
  assert.ok(describeConfig(c, sections).includes('smtp.password = ***'));
  assert.throws(() => loadConfig({ WORKER_MAX_RETRY: 'x' }, sections), (e: unknown) => e instanceof ConfigError && e.problems.length === 2);
});
