// `openvle-rq migrate`: creates the database when missing, applies what is
// pending once, and says so; an unreachable MariaDB is one line, exit 1.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { MIGRATIONS } from '../../src/openvle/db/migrations/index.js';
import { testDatabase } from '../openvle/db.js';
import { run } from './helpers.js';

test('migrate creates a missing database, applies every migration once, then has nothing to apply', async () => {
  const probe = await testDatabase('ovmig');
  await probe.drop(); // a name that is free: migrate must create it
  const env = { MARIADB_HOST: probe.config.host, MARIADB_PORT: String(probe.config.port), MARIADB_USER: probe.config.user, MARIADB_PASSWORD: probe.config.password, MARIADB_DATABASE: probe.config.database };
  try {
    const last = Math.max(...MIGRATIONS.map((m) => m.version));
    const first = await run(['migrate'], { env, timeoutMs: 60_000 });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applying migration 1 \(tasks and sub_tasks\)/);
    assert.ok(first.stdout.endsWith(`\nApplied migration(s) ${MIGRATIONS.map((m) => m.version).join(', ')}; schema at version ${last}\n`), first.stdout);
    const again = await run(['migrate'], { env, timeoutMs: 60_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stdout.endsWith(`Nothing to apply; schema at version ${last}\n`), again.stdout);
    assert.doesNotMatch(again.stdout, /applying migration/);
    const conn = await mysql.createConnection({ ...probe.config });
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM sub_tasks');
    await conn.end();
    assert.equal((rows as Array<{ n: number }>)[0]!.n, 0);
  } finally {
    await probe.drop();
  }
});

test('migrate against a MariaDB that does not answer ends with one line and exit 1, no password', async () => {
  const secret = randomBytes(8).toString('hex');
  const r = await run(['migrate'], { env: { MARIADB_HOST: '127.0.0.1', MARIADB_PORT: '1', MARIADB_PASSWORD: secret, MARIADB_DATABASE: 'openvle_none' }, timeoutMs: 30_000 });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: MariaDB at 127\.0\.0\.1:1 \(database openvle_none, user root\) cannot be reached: .+\n$/);
  assert.ok(!r.stderr.includes(secret));
});
