// `openvle-rq health`, the containers' healthcheck: exit 0 and one ok line
// against a healthy setup; exit 1 and one line naming what failed against a
// dead Redis, a wrong MariaDB, an unknown or silent worker, and a host that
// runs no worker or cron scheduler.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { keys } from '../../src/index.js';
import { Cli, cliRedis, run, tempDir } from '../cli/helpers.js';
import { freePort } from '../helpers/redis.js';
import { uniq } from '../helpers/util.js';
import { testDatabase } from '../openvle/db.js';

const fx = cliRedis();
let db: Awaited<ReturnType<typeof testDatabase>>;
let worker: Cli;
const workerName = uniq('hw');


const dbEnv = () => ({
  MARIADB_HOST: db.config.host,
  MARIADB_PORT: String(db.config.port),
  MARIADB_USER: db.config.user,
  MARIADB_PASSWORD: db.config.password,
  MARIADB_DATABASE: db.config.database,
});

function assertOneLineError(r: { code: number | null; stdout: string; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^error: unhealthy: /);
  assert.match(r.stderr, re);
}

describe('openvle-rq health', () => {
  before(async () => {
    db = await testDatabase('ovhealth');
    worker = new Cli(['worker', '-u', fx.url, '-n', workerName, uniq('hq')]);
    await worker.waitFor(/started with PID/, 30_000);
  });
  after(async () => {
    await worker?.stop('SIGKILL');
    await db?.drop();
  });

  test('healthy: Redis, MariaDB and the named worker answer', async () => {
    const r = await run(['health', '-u', fx.url, '--worker', workerName], { env: dbEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.match(r.stdout, /^ok: Redis at redis:\/\/127\.0\.0\.1:\d+ answers; MariaDB at .* answers; worker \S+ heart-beat \d+s ago\n$/);
  });

  test("healthy: SERVICE_ROLE finds this host's worker without a name", async () => {
    const r = await run(['health', '-u', fx.url], { env: { ...dbEnv(), SERVICE_ROLE: 'worker' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`worker ${workerName} heart-beat`));
  });

  test('a dead Redis', async () => {
    const port = await freePort();
    const r = await run(['health', '-u', `redis://127.0.0.1:${port}/0`, '--worker', workerName]);
    assertOneLineError(r, new RegExp(`Cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/0.*ECONNREFUSED.*worker: not checked|Redis.*${port}.*ECONNREFUSED`));
  });

  test('a wrong MariaDB: bad password, missing database, nothing listening; never the password', async () => {
    const secret = 'Wr0ng-Pa55word-xyz';
    const wrongPassword = await run(['health', '-u', fx.url], { env: { ...dbEnv(), MARIADB_USER: 'ovhealth_nobody', MARIADB_PASSWORD: secret } });
    assertOneLineError(wrongPassword, /MariaDB at 127\.0\.0\.1:\d+ \(database ovhealth_\w+, user ovhealth_nobody\): ER_ACCESS_DENIED_ERROR/);
    assert.ok(!wrongPassword.stderr.includes(secret));

    const missing = await run(['health', '-u', fx.url], { env: { ...dbEnv(), MARIADB_DATABASE: 'ovhealth_does_not_exist' } });
    assertOneLineError(missing, /MariaDB .*ER_BAD_DB_ERROR/);

    const port = await freePort();
    const down = await run(['health', '-u', fx.url, '--timeout', '2'], { env: { ...dbEnv(), MARIADB_PORT: String(port) } });
    assertOneLineError(down, new RegExp(`MariaDB at 127\\.0\\.0\\.1:${port} .*ECONNREFUSED`));

    const badConfig = await run(['health', '-u', fx.url], { env: { DATABASE_URL: 'postgres://u:p@h/d' } });
    assert.equal(badConfig.code, 1);
    assert.match(badConfig.stderr, /^error: MariaDB configuration: DATABASE_URL must start with mysql:\/\/ or mariadb:\/\/ \(got postgres:\/\/\)\n$/);
  });

  test('--mariadb checks the defaults even with no variable set', async () => {
    const r = await run(['health', '-u', fx.url, '--mariadb'], { env: { MARIADB_DATABASE: undefined } });
    // The machine's MariaDB has no database 'openvle' of ours to rely on:
    // either answer is about MariaDB, never silence.
    assert.match(r.stdout + r.stderr, /MariaDB at 127\.0\.0\.1:3306 \(database openvle, user root\)/);
  });

  test('an unknown worker, and one that stopped heart-beating', async () => {
    assertOneLineError(await run(['health', '-u', fx.url, '--worker', 'no-such-worker']), /worker no-such-worker is not registered/);

    const ghost = uniq('ghost');
    await fx.redis.hset(keys.worker(ghost), { name: ghost, last_heartbeat: '2020-01-01T00:00:00.000000Z', state: 'idle' });
    assertOneLineError(await run(['health', '-u', fx.url, '--worker', ghost]), new RegExp(`worker ${ghost} last heart-beat \\d+s ago \\(limit 90s\\)`));
    await fx.redis.del(keys.worker(ghost));
  });

  test('a host with no cron scheduler (SERVICE_ROLE=scheduler), and a foreign SERVICE_ROLE', async () => {
    assertOneLineError(await run(['health', '-u', fx.url], { env: { SERVICE_ROLE: 'scheduler' } }), /no cron scheduler of this host \(.+\) is registered/);
    const backend = await run(['health', '-u', fx.url], { env: { SERVICE_ROLE: 'backend' } });
    assert.equal(backend.code, 1);
    assert.match(backend.stderr, /^error: SERVICE_ROLE 'backend' runs no worker here: give --worker NAME\n$/);
  });

  test("healthy: SERVICE_ROLE=scheduler finds this host's cron scheduler", async () => {
    const dir = tempDir({ 'cronconf.mjs': "import { cron } from 'openvle-rq';\ncron.register('tasks.add', { queueName: 'hcron', interval: 3600 });\n" });
    const c = new Cli(['cron', '-u', fx.url, dir.path('cronconf.mjs')]);
    try {
      await c.waitFor(/Loading cron configuration/, 30_000);
      // Registered a moment after it logs: poll the check itself.
      let r = await run(['health', '-u', fx.url], { env: { SERVICE_ROLE: 'scheduler' } });
      for (let i = 0; i < 50 && r.code !== 0; i++) r = await run(['health', '-u', fx.url], { env: { SERVICE_ROLE: 'scheduler' } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /cron scheduler \S+ heart-beat \d+s ago/);
    } finally {
      await c.stop('SIGKILL');
      dir.remove();
    }
  });
});
