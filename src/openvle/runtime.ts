import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../index.js';
import type { MariaDbConfig } from './config/mariadb.js';
import { migrate } from './db/migrate.js';
import { createPool, createDatabaseIfMissing, type Pool, type PoolOptions } from './db/pool.js';
import { isOpenVleQueue } from './queues.js';
import { TaskTracker, type TaskTrackerOptions } from './tracking/tracker.js';

/** MariaDB could not be reached or migrated at start-up: one line, no secret. */
export class DatabaseUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

/** Whether a worker on these queues needs MariaDB (it serves at least one OpenVLE queue). */
export function needsDatabase(queues: readonly string[]): boolean {
  return queues.some(isOpenVleQueue);
}

export interface OpenVleRuntime {
  pool: Pool;
  tracker: TaskTracker;
  /** Migration versions this start applied. */
  applied: number[];
  close(): Promise<void>;
}

/**
 * Connects to MariaDB (creating the database when missing), applies pending
 * migrations under the lock, and hands back the pool; one clear line
 * (DatabaseUnavailableError) when MariaDB cannot be reached or migrated.
 */
export async function openMigratedPool(
  c: MariaDbConfig,
  opts: { log?: Logger; pool?: PoolOptions } = {},
): Promise<{ pool: Pool; applied: number[] }> {
  const log = opts.log ?? silentLogger;
  const where = `MariaDB at ${c.host}:${c.port} (database ${c.database}, user ${c.user})`;
  const pool = createPool(c, opts.pool);
  try {
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      // Created only when missing (development, tests): production's MariaDB
      // image creates it from MARIADB_DATABASE.
      if ((err as { code?: string }).code !== 'ER_BAD_DB_ERROR') throw err;
      await createDatabaseIfMissing(c);
      await pool.query('SELECT 1');
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw new DatabaseUnavailableError(`${where} cannot be reached: ${reason(err)}`, { cause: err });
  }
  try {
    return { pool, applied: await migrate(pool, { log: (l) => log.info(l) }) };
  } catch (err) {
    await pool.end().catch(() => {});
    throw new DatabaseUnavailableError(`${where}: migrations failed: ${reason(err)}`, { cause: err });
  }
}

/**
 * What every OpenVLE worker and `serve` do at start-up: the migrated pool
 * (openMigratedPool), then Task tracking.
 */
export async function startOpenVle(opts: {
  mariadb: MariaDbConfig;
  redis: Redis;
  log?: Logger;
  tracker?: Omit<TaskTrackerOptions, 'pool' | 'redis' | 'log'>;
}): Promise<OpenVleRuntime> {
  const log = opts.log ?? silentLogger;
  const { pool, applied } = await openMigratedPool(opts.mariadb, { log });
  const tracker = new TaskTracker({ pool, redis: opts.redis, log, ...opts.tracker });
  return {
    pool,
    tracker,
    applied,
    close: async () => {
      await tracker.close();
      await pool.end();
    },
  };
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  // mysql2 messages carry the user name but never the password; keep the first line only.
  const msg = (e.message ?? String(err)).split('\n')[0]!;
  return e.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}
