import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../index.js';
import type { MariaDbConfig } from './config/mariadb.js';
import { migrate } from './db/migrate.js';
import { createPool, createDatabaseIfMissing, type Pool } from './db/pool.js';
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
 * What every OpenVLE worker, `serve` and `migrate` do at start-up: connect
 * to MariaDB (create the database when missing), apply pending migrations
 * under the lock, and set up Task tracking. Fails with one clear line
 * (DatabaseUnavailableError) when MariaDB cannot be reached.
 */
export async function startOpenVle(opts: {
  mariadb: MariaDbConfig;
  redis: Redis;
  log?: Logger;
  tracker?: Omit<TaskTrackerOptions, 'pool' | 'redis' | 'log'>;
}): Promise<OpenVleRuntime> {
  const c = opts.mariadb;
  const log = opts.log ?? silentLogger;
  const where = `MariaDB at ${c.host}:${c.port} (database ${c.database}, user ${c.user})`;
  const pool = createPool(c);
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
  let applied: number[];
  try {
    applied = await migrate(pool, { log: (l) => log.info(l) });
  } catch (err) {
    await pool.end().catch(() => {});
    throw new DatabaseUnavailableError(`${where}: migrations failed: ${reason(err)}`, { cause: err });
  }
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
