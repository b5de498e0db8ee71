import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import type { MariaDbConfig } from '../config/mariadb.js';

/**
 * The demo's own corner of Redis and MariaDB: an empty Redis database
 * number and a fresh MariaDB database, on the servers the environment
 * names (or the defaults), or on servers it starts itself when none
 * answers. Everything it made is removed by `close()`, so it never touches
 * real data.
 */
export interface DemoInfra {
  redisUrl: string;
  mariadb: MariaDbConfig;
  /** What was started or used, for the demo's first lines. */
  notes: string[];
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** The first empty database number from 15 down to 1: the demo's, flushed at the end. */
async function emptyDb(baseUrl: string): Promise<number> {
  const r = new Redis(baseUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  await r.connect();
  try {
    for (let db = 15; db >= 1; db--) {
      await r.select(db);
      if ((await r.dbsize()) === 0) return db;
    }
    throw new Error('no empty Redis database number (1-15) for the demo: it never writes into one that holds data');
  } finally {
    r.disconnect();
  }
}

async function mariadbAnswers(c: MariaDbConfig): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 2000 });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

export async function startDemoInfra(opts: { redisUrl?: string; mariadb: MariaDbConfig; log: (line: string) => void }): Promise<DemoInfra> {
  const notes: string[] = [];
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const stopChildren = async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    // Redis
    let base = (opts.redisUrl ?? 'redis://127.0.0.1:6379').replace(/\/\d+$/, '');
    if (!(await redisAnswers(base))) {
      if (!hasBinary('redis-server')) throw new Error(`no Redis answers at ${base} and redis-server is not installed`);
      const port = await freePort();
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      children.push(child);
      base = `redis://127.0.0.1:${port}`;
      await until(() => redisAnswers(base), 10_000, 'redis-server');
      notes.push(`started redis-server on port ${port} (stopped at exit)`);
    }
    const db = await emptyDb(base);
    const redisUrl = `${base}/${db}`;
    notes.push(`Redis database ${db} at ${base.replace(/\/\/[^@]*@/, '//***@')} (flushed at exit)`);
    cleanups.push(async () => {
      const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      await r.flushdb().catch(() => {});
      r.disconnect();
    });

    // MariaDB
    let server = { ...opts.mariadb };
    if (!(await mariadbAnswers(server))) {
      if (!hasBinary('mariadbd') || !hasBinary('mariadb-install-db')) {
        throw new Error(`no MariaDB answers at ${server.host}:${server.port} and mariadbd is not installed`);
      }
      const dir = mkdtempSync(join(tmpdir(), 'openvle-demo-mariadb-'));
      dirs.push(dir);
      const install = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${join(dir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db', `--user=${process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'root')}`], { stdio: 'ignore' });
      if (install.status !== 0) throw new Error('mariadb-install-db failed');
      const port = await freePort();
      // --no-defaults: the system my.cnf names its own user, log and socket paths.
      const args = ['--no-defaults', `--datadir=${join(dir, 'data')}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'sock')}`, `--pid-file=${join(dir, 'pid')}`];
      if (process.getuid?.() === 0) args.push('--user=root');
      const child = spawn('mariadbd', args, { stdio: 'ignore' });
      children.push(child);
      server = { ...server, host: '127.0.0.1', port, user: 'root', password: '' };
      await until(() => mariadbAnswers(server), 30_000, 'mariadbd');
      notes.push(`started mariadbd on port ${port} with a temporary data directory (removed at exit)`);
    }
    const database = `openvle_demo_${Date.now().toString(36)}`;
    const admin = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
    await admin.query(`CREATE DATABASE \`${database}\``);
    await admin.end();
    notes.push(`MariaDB database ${database} at ${server.host}:${server.port} (dropped at exit)`);
    cleanups.push(async () => {
      const c = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
      await c.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await c.end();
    });
    return {
      redisUrl,
      mariadb: { ...server, database },
      notes,
      close: async () => {
        for (const c of cleanups.reverse()) await c().catch((err: Error) => opts.log(`cleanup: ${err.message}`));
        await stopChildren();
      },
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await stopChildren();
    throw err;
  }
}
