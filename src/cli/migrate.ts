/** `openvle-rq migrate`: applies OpenVLE's pending MariaDB migrations under the named lock, and says which. */
import { Command } from 'commander';
import { appliedVersions, openMigratedPool, type Pool } from '../openvle/index.js';
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
  let pool: Pool;
  let applied: number[];
  try {
    ({ pool, applied } = await openMigratedPool(mariadbFromEnv(), { log, pool: { connectionLimit: 2 } }));
  } catch (err) {
    throw new CliError(oneLine(err));
  }
  try {
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
