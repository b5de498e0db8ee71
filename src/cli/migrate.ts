/** `openvle-rq migrate`: applies OpenVLE's pending MariaDB migrations under the named lock, and says which. */
import { Command } from 'commander';
import { appliedVersions, createDatabaseIfMissing, createPool, DatabaseUnavailableError, migrate } from '../openvle/index.js';
import { action, CliError, loggerFromFlags, oneLine, withLogging, type LoggingFlags } from './common.js';
import { mariadbFromEnv } from './openvle-db.js';

export function migrateCommand(): Command {
  const cmd = new Command('migrate')
    .summary("apply OpenVLE's pending MariaDB migrations")
    .description(
      'Creates the database when missing and applies pending migrations under a MariaDB named lock, so several\n' +
        'processes starting at once apply each exactly once (workers and serve do the same at start-up).',
    );
  withLogging(cmd);
  return cmd.action(action(runMigrate));
}

async function runMigrate(flags: LoggingFlags): Promise<number> {
  const log = loggerFromFlags(flags);
  const c = mariadbFromEnv();
  const where = `MariaDB at ${c.host}:${c.port} (database ${c.database}, user ${c.user})`;
  const pool = createPool(c, { connectionLimit: 2 });
  try {
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      // Created only when missing, as startOpenVle does (a database-scoped account may not create one).
      if ((err as { code?: string }).code !== 'ER_BAD_DB_ERROR') throw err;
      await createDatabaseIfMissing(c);
      await pool.query('SELECT 1');
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw new CliError(oneLine(new DatabaseUnavailableError(`${where} cannot be reached: ${oneLine(err)}`)));
  }
  try {
    let applied: number[];
    try {
      applied = await migrate(pool, { log: (l) => log.info(l) });
    } catch (err) {
      throw new CliError(`${where}: migrations failed: ${oneLine(err)}`);
    }
    const all = await appliedVersions(pool);
    process.stdout.write(
      applied.length > 0
        ? `Applied migration(s) ${applied.join(', ')}; schema at version ${Math.max(...all)}\n`
        : `Nothing to apply; schema at version ${all.length ? Math.max(...all) : 0}\n`,
    );
  } finally {
    await pool.end().catch(() => {});
  }
  return 0;
}
