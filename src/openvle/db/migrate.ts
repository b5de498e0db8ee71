import type { Pool } from './pool.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export interface MigrateOptions {
  migrations?: readonly Migration[];
  /** Seconds to wait for another process's run to finish. */
  lockTimeout?: number;
  log?: (line: string) => void;
}

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/**
 * Applies pending migrations, in version order, under a MariaDB named
 * lock, so that of several processes starting at once one applies each
 * migration and the others wait, then find it recorded. The lock is held
 * by one connection for the whole run (GET_LOCK belongs to a session), and
 * MariaDB drops it if that process dies. DDL commits implicitly, so each
 * migration is recorded right after its statements; statements use IF NOT
 * EXISTS so that a run cut off between the two can be repeated.
 * Returns the versions this call applied.
 */
export async function migrate(pool: Pool, opts: MigrateOptions = {}): Promise<number[]> {
  const migrations = [...(opts.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  const versions = new Set<number>();
  for (const m of migrations) {
    if (versions.has(m.version)) throw new MigrationError(`two migrations have version ${m.version}`);
    versions.add(m.version);
  }
  const log = opts.log ?? (() => {});
  const conn = await pool.getConnection();
  const [[{ db }]] = (await conn.query('SELECT DATABASE() AS db')) as unknown as [[{ db: string }]];
  // Lock names are server-wide: one per database, cut to MariaDB's 64 characters.
  const lock = `openvle_migrate:${db}`.slice(0, 64);
  try {
    const [[got]] = (await conn.query('SELECT GET_LOCK(?, ?) AS ok', [lock, opts.lockTimeout ?? 120])) as unknown as [[{ ok: number | null }]];
    if (got?.ok !== 1) throw new MigrationError(`could not take the migration lock '${lock}' within ${opts.lockTimeout ?? 120} s (another process is migrating)`);
    try {
      await conn.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version INT UNSIGNED NOT NULL PRIMARY KEY,
           name VARCHAR(255) NOT NULL,
           applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      );
      const [rows] = (await conn.query('SELECT version FROM schema_migrations')) as unknown as [Array<{ version: number }>];
      const done = new Set(rows.map((r) => Number(r.version)));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        log(`applying migration ${m.version} (${m.name})`);
        for (const [i, sql] of m.up.entries()) {
          try {
            await conn.query(sql);
          } catch (err) {
            throw new MigrationError(`migration ${m.version} (${m.name}), statement ${i + 1}: ${(err as Error).message}`, { cause: err });
          }
        }
        await conn.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [m.version, m.name]);
        applied.push(m.version);
      }
      return applied;
    } finally {
      await conn.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => {});
    }
  } finally {
    conn.release();
  }
}

/** Versions recorded as applied, ascending (empty before the first run). */
export async function appliedVersions(pool: Pool): Promise<number[]> {
  try {
    const [rows] = (await pool.query('SELECT version FROM schema_migrations ORDER BY version')) as unknown as [Array<{ version: number }>];
    return rows.map((r) => Number(r.version));
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_NO_SUCH_TABLE') return [];
    throw err;
  }
}
