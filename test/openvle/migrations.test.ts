import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '../../src/openvle/db/pool.js';
import { appliedVersions, migrate, MigrationError } from '../../src/openvle/db/migrate.js';
import { MIGRATIONS } from '../../src/openvle/db/migrations/index.js';
import { testDatabase } from './db.js';

const dbs: Array<() => Promise<void>> = [];
const pools: Pool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(dbs.map((d) => d()));
});

async function freshPool(): Promise<{ pool: Pool; config: Awaited<ReturnType<typeof testDatabase>>['config'] }> {
  const db = await testDatabase();
  dbs.push(db.drop);
  const pool = createPool(db.config);
  pools.push(pool);
  return { pool, config: db.config };
}

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../fixtures/openvle-migrate.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('five processes started at once on an empty database apply every migration exactly once', async () => {
  const { pool, config } = await freshPool();
  const dir = mkdtempSync(join(tmpdir(), 'ovrq-migrate-'));
  const go = join(dir, 'go');
  try {
    const procs = Array.from({ length: 5 }, () => run([JSON.stringify(config), go]));
    // let them all connect before the signal (they poll for it)
    await new Promise((r) => setImmediate(r));
    writeFileSync(go, '');
    const results = await Promise.all(procs);
    for (const r of results) assert.equal(r.code, 0, r.err);
    const applied = results.flatMap((r) => JSON.parse(r.out.trim()) as number[]).sort((a, b) => a - b);
    assert.deepEqual(applied, MIGRATIONS.map((m) => m.version));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [rows] = (await pool.query('SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version')) as unknown as [Array<{ version: number; n: number }>];
  assert.deepEqual(rows.map((r) => [Number(r.version), Number(r.n)]), MIGRATIONS.map((m) => [m.version, 1]));
  assert.deepEqual(await appliedVersions(pool), MIGRATIONS.map((m) => m.version));
  assert.deepEqual(await migrate(pool), [], 'a later start applies nothing');
});

test('tasks and sub_tasks have exactly the shape the Python backend shares', async () => {
  const { pool, config } = await freshPool();
  await migrate(pool);
  const [cols] = (await pool.query(
    `SELECT TABLE_NAME t, COLUMN_NAME c, COLUMN_TYPE ty, IS_NULLABLE n, EXTRA x FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ('tasks','sub_tasks') ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [config.database],
  )) as unknown as [Array<{ t: string; c: string; ty: string; n: string; x: string }>];
  const shape = cols.map((r) => `${r.t}.${r.c} ${r.ty}${r.n === 'YES' ? ' NULL' : ''}`);
  assert.deepEqual(shape, [
    'sub_tasks.id bigint(20) unsigned',
    'sub_tasks.task_id bigint(20) unsigned',
    'sub_tasks.attempt int(11)',
    'sub_tasks.action varchar(255)',
    "sub_tasks.status enum('processing','success','error')",
    'sub_tasks.error_message text NULL',
    'sub_tasks.worker varchar(255)',
    'sub_tasks.started_at datetime(3)',
    'sub_tasks.ended_at datetime(3) NULL',
    'tasks.id bigint(20) unsigned',
    'tasks.name varchar(255)',
    'tasks.type varchar(255)',
    'tasks.queue varchar(64)',
    'tasks.job_id varchar(128) NULL',
    "tasks.status enum('queued','running','success','failed','canceled')",
    'tasks.progress tinyint(3) unsigned',
    'tasks.event_id bigint(20) unsigned NULL',
    'tasks.created_by bigint(20) unsigned NULL',
    // MariaDB stores JSON as LONGTEXT with a JSON_VALID check
    'tasks.result longtext NULL',
    'tasks.error text NULL',
    'tasks.created_at datetime(3)',
    'tasks.updated_at datetime(3)',
  ]);
  // job_id unique, (task_id, attempt) unique, sub_tasks cascade with their task
  await pool.query("INSERT INTO tasks (name, type, queue, job_id) VALUES ('Clone VM', 'openvle.pve.clone_vm', 'pve_vm_clone', 'j1')");
  await assert.rejects(pool.query("INSERT INTO tasks (name, type, queue, job_id) VALUES ('x', 'x', 'x', 'j1')"), /Duplicate entry/);
  await assert.rejects(pool.query("INSERT INTO tasks (name, type, queue, result) VALUES ('x', 'x', 'x', 'not json')"), /CONSTRAINT|check/i);
  await pool.query("INSERT INTO sub_tasks (task_id, attempt, action, worker) SELECT id, 1, 'clone', 'w' FROM tasks WHERE job_id = 'j1'");
  await assert.rejects(pool.query("INSERT INTO sub_tasks (task_id, attempt, action, worker) SELECT id, 1, 'clone', 'w' FROM tasks WHERE job_id = 'j1'"), /Duplicate entry/);
  await pool.query("DELETE FROM tasks WHERE job_id = 'j1'");
  const [[{ n }]] = (await pool.query('SELECT COUNT(*) AS n FROM sub_tasks')) as unknown as [[{ n: number }]];
  assert.equal(Number(n), 0);
});

test('the domain schema holds what the tasks need', async () => {
  const { pool, config } = await freshPool();
  await migrate(pool);
  const [tables] = (await pool.query('SELECT TABLE_NAME t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [config.database])) as unknown as [Array<{ t: string }>];
  assert.deepEqual(tables.map((r) => r.t).sort(), [
    'connection_templates', 'environment_templates', 'environments', 'event_admins', 'event_participants', 'events',
    'guacamole_connections', 'mail_actions', 'mail_templates', 'pve_nodes', 'schema_migrations', 'sent_mails', 'sub_tasks',
    'tasks', 'vm_templates', 'vms',
  ]);
  // the event status machine and the short-name rule are enforced by the database
  await pool.query("INSERT INTO events (name, short_name, start_date) VALUES ('Linux 101', 'lin101', '2026-12-01')");
  await assert.rejects(pool.query("INSERT INTO events (name, short_name, start_date) VALUES ('Bad', 'UPPER', '2026-12-01')"), /CONSTRAINT|check/i);
  await assert.rejects(pool.query("UPDATE events SET status = 'running'"), /Data truncated|status/i);
  // a VM's row and its connections go together (delete_vm removes both)
  await pool.query("INSERT INTO vms (vmid, node, name, status) VALUES (101, 'pve1', 'lin101-s1-web', 'running')");
  await pool.query("INSERT INTO guacamole_connections (name, vm_id, guac_connection_id) SELECT 'Linux 101 web', id, '7' FROM vms");
  await pool.query('DELETE FROM vms WHERE vmid = 101');
  const [[{ n }]] = (await pool.query('SELECT COUNT(*) AS n FROM guacamole_connections')) as unknown as [[{ n: number }]];
  assert.equal(Number(n), 0);
  // a connection template belongs to exactly one VM or VM template
  await assert.rejects(pool.query("INSERT INTO connection_templates (protocol, port, username, password) VALUES ('ssh', 22, 'u', 'p')"), /CONSTRAINT|check/i);
  const [slugs] = (await pool.query('SELECT slug FROM mail_actions ORDER BY slug')) as unknown as [Array<{ slug: string }>];
  // the four event actions of migration 2 and the advance notices of migration 5
  assert.deepEqual(slugs.map((s) => s.slug), [
    'events_decommission_started',
    'events_end_notice',
    'events_post_decommission_failed',
    'events_post_deployment_failed',
    'events_post_deployment_success',
    'events_start_notice',
  ]);
});

test('a failing migration names itself and is not recorded; duplicate versions are refused', async () => {
  const { pool } = await freshPool();
  const bad = [{ version: 1, name: 'broken', up: ['CREATE TABLE x (id INT)', 'THIS IS NOT SQL'] }];
  await assert.rejects(migrate(pool, { migrations: bad }), (e: unknown) => e instanceof MigrationError && /migration 1 \(broken\), statement 2/.test(e.message));
  assert.deepEqual(await appliedVersions(pool), []);
  await assert.rejects(migrate(pool, { migrations: [bad[0]!, bad[0]!] }), /two migrations have version 1/);
});
