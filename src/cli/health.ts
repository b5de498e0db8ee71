/**
 * `openvle-rq health`: the containers' healthcheck. Exit 0 and one `ok:`
 * line when everything checked answers; exit 1 and one `error:` line
 * naming what failed otherwise.
 */
import { Command } from 'commander';
import { ConfigError, isRoleName, loadConfig, OPENVLE_SECTIONS } from '../openvle/index.js';
import { checkHealth, DEFAULT_MAX_HEARTBEAT_AGE, type ProcessTarget } from '../ops/health.js';
import { action, CliError, floatArg, resolveUrl, withUrl } from './common.js';

interface HealthFlags {
  url?: string;
  mariadb?: boolean;
  worker?: string;
  local?: boolean;
  maxHeartbeatAge: number;
  timeout: number;
}

/** Variables that mean OpenVLE's MariaDB is configured here, so health checks it. */
export const MARIADB_VARIABLES = ['DATABASE_URL', 'MARIADB_HOST', 'MARIADB_PORT', 'MARIADB_USER', 'MARIADB_PASSWORD', 'MARIADB_DATABASE'];

export function healthCommand(): Command {
  const cmd = new Command('health')
    .summary('check Redis, MariaDB and a worker (the containers\' healthcheck)')
    .description(
      'Exits 0 when Redis answers, MariaDB answers (checked with --mariadb or when DATABASE_URL or a MARIADB_* variable is set),\n' +
        'and the process checked is registered and heart-beating: --worker NAME, or with --local (implied when SERVICE_ROLE\n' +
        'is set and --worker is not given) the workers this host registered whose process is alive here, or for\n' +
        'SERVICE_ROLE=scheduler its cron scheduler. Else exits 1 with one line saying what failed.',
    )
    .option('--mariadb', "check OpenVLE's MariaDB even when no MARIADB_* variable is set (defaults apply)")
    .option('-w, --worker <name>', 'the worker that must be registered and heart-beating')
    .option('--local', "check this host's own worker (or cron scheduler, for SERVICE_ROLE=scheduler)")
    .option('--max-heartbeat-age <seconds>', `oldest heartbeat that counts as alive (default: ${DEFAULT_MAX_HEARTBEAT_AGE})`, floatArg(0), DEFAULT_MAX_HEARTBEAT_AGE)
    .option('--timeout <seconds>', 'connect timeout for Redis and MariaDB (default: 3)', floatArg(0), 3);
  withUrl(cmd);
  return cmd.action(action(runHealth));
}

function targetOf(flags: HealthFlags, env: NodeJS.ProcessEnv): ProcessTarget | undefined {
  if (flags.worker !== undefined) {
    if (flags.worker.trim() === '') throw new CliError('--worker needs a worker name');
    return { worker: flags.worker };
  }
  const role = env.SERVICE_ROLE?.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  if (!flags.local && !role) return undefined;
  if (role && !isRoleName(role)) throw new CliError(`SERVICE_ROLE '${env.SERVICE_ROLE}' runs no worker here: give --worker NAME`);
  return { local: role === 'scheduler' ? 'scheduler' : 'worker' };
}

async function runHealth(flags: HealthFlags): Promise<number> {
  const env = process.env;
  const url = await resolveUrl(flags.url);
  const target = targetOf(flags, env);
  let mariadb;
  if (flags.mariadb || MARIADB_VARIABLES.some((v) => env[v]?.trim())) {
    try {
      mariadb = loadConfig(env, { mariadb: OPENVLE_SECTIONS.mariadb }).mariadb;
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(`MariaDB configuration: ${err.problems.join('; ')}`);
      throw err;
    }
  }
  const results = await checkHealth({ redisUrl: url, mariadb, target, maxHeartbeatAge: flags.maxHeartbeatAge, timeoutMs: flags.timeout * 1000 });
  const failed = results.filter((r) => !r.ok);
  if (failed.length) throw new CliError(`unhealthy: ${failed.map((r) => r.detail).join('; ')}`);
  process.stdout.write(`ok: ${results.map((r) => r.detail).join('; ')}\n`);
  return 0;
}
