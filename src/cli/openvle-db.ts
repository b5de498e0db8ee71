/**
 * MariaDB for the OpenVLE commands that only read or fix Task rows (tasks,
 * task retry): the MARIADB_* / DATABASE_URL variables alone, a pool checked
 * once, and one line when it cannot be reached.
 */
import { createPool, DatabaseUnavailableError, loadConfig, OPENVLE_SECTIONS, type MariaDbConfig, type Pool } from '../openvle/index.js';
import { CliError, oneLine } from './common.js';

export function mariadbFromEnv(): MariaDbConfig {
  // ConfigError: one line per bad variable (the CLI prints each).
  return loadConfig(process.env, { mariadb: OPENVLE_SECTIONS.mariadb }).mariadb;
}

/** A pool on OpenVLE's database; CliError (one line, no secret) when it cannot be used. */
export async function openvlePool(): Promise<Pool> {
  const c = mariadbFromEnv();
  const pool = createPool(c, { connectionLimit: 2 });
  try {
    await pool.query('SELECT 1 FROM tasks LIMIT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    const code = (err as { code?: string }).code;
    const where = `MariaDB at ${c.host}:${c.port} (database ${c.database}, user ${c.user})`;
    if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_DB_ERROR') throw new CliError(`${where} has no Task tables yet: run 'openvle-rq migrate'`);
    throw new CliError(oneLine(new DatabaseUnavailableError(`${where} cannot be reached: ${oneLine(err)}`)));
  }
  return pool;
}
