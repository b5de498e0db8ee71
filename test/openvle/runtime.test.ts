import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import mysql from 'mysql2/promise';
import { createRedis } from '../../src/index.js';
import { appliedVersions } from '../../src/openvle/db/migrate.js';
import { MIGRATIONS } from '../../src/openvle/db/migrations/index.js';
import { DatabaseUnavailableError, needsDatabase, startOpenVle } from '../../src/openvle/runtime.js';
import { freePort } from '../helpers/redis.js';
import { serverConfig, testDatabase } from './db.js';

// The tracker needs a Redis client object but these tests send it nothing.
const redis = createRedis('redis://127.0.0.1:1', { lazyConnect: true });
after(() => redis.disconnect());

test('only workers serving an OpenVLE queue need MariaDB', () => {
  assert.equal(needsDatabase(['default', 'high']), false);
  assert.equal(needsDatabase(['default', 'mails']), true);
});

test('start-up creates a missing database and applies the migrations', async () => {
  const db = await testDatabase();
  await db.drop(); // the name is unique; start from no database at all
  const rt = await startOpenVle({ mariadb: db.config, redis });
  try {
    assert.deepEqual(rt.applied, MIGRATIONS.map((m) => m.version));
    assert.deepEqual(await appliedVersions(rt.pool), MIGRATIONS.map((m) => m.version));
  } finally {
    await rt.close();
    await db.drop();
  }
});

test('an account with rights on its own database only (as the MariaDB image makes it) starts and migrates', async () => {
  const db = await testDatabase();
  const user = `ovt_${randomBytes(4).toString('hex')}`;
  const root = serverConfig();
  const admin = await mysql.createConnection({ host: root.host, port: root.port, user: root.user, password: root.password });
  try {
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw-${user}'`);
    await admin.query(`CREATE USER '${user}'@'localhost' IDENTIFIED BY 'pw-${user}'`);
    for (const host of ['%', 'localhost']) await admin.query(`GRANT ALL ON \`${db.config.database}\`.* TO '${user}'@'${host}'`);
    const rt = await startOpenVle({ mariadb: { ...db.config, user, password: `pw-${user}` }, redis });
    assert.deepEqual(rt.applied, MIGRATIONS.map((m) => m.version));
    await rt.close();
  } finally {
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.query(`DROP USER IF EXISTS '${user}'@'localhost'`);
    await admin.end();
    await db.drop();
  }
});

test('MariaDB unreachable at start-up: one line saying where, no password', async () => {
  const port = await freePort();
  const config = { ...serverConfig('openvle'), port, password: 'do-not-print-me' };
  await assert.rejects(startOpenVle({ mariadb: config, redis }), (err: unknown) => {
    assert.ok(err instanceof DatabaseUnavailableError);
    assert.match(err.message, new RegExp(`^MariaDB at 127\\.0\\.0\\.1:${port} \\(database openvle, user root\\) cannot be reached: .*ECONNREFUSED`));
    assert.ok(!err.message.includes('\n'));
    assert.ok(!err.message.includes('do-not-print-me'));
    return true;
  });
});
