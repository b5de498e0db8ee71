import mysql from 'mysql2/promise';
import type { MariaDbConfig } from '../config/mariadb.js';

export type Pool = mysql.Pool;

export interface PoolOptions {
  connectionLimit?: number;
  /** Ms to wait for a connection to open; short, so an unreachable server fails an attempt fast. */
  connectTimeout?: number;
}

/**
 * A mysql2 pool for OpenVLE's database. Sessions run in UTC so that
 * DATETIME(3) defaults (CURRENT_TIMESTAMP(3)) and the Date values we bind
 * mean the same instant whatever the server's time zone.
 */
export function createPool(c: MariaDbConfig, opts: PoolOptions = {}): Pool {
  const pool = mysql.createPool({
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    connectionLimit: opts.connectionLimit ?? 5,
    connectTimeout: opts.connectTimeout ?? 5000,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    enableKeepAlive: true,
  });
  pool.pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  return pool;
}

/**
 * Creates the configured database when it does not exist (for `migrate`
 * and tests; production images usually get it from MARIADB_DATABASE).
 */
export async function createDatabaseIfMissing(c: MariaDbConfig): Promise<void> {
  const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, connectTimeout: 5000 });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${c.database.replace(/`/g, '``')}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
}
