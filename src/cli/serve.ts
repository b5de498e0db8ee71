/**
 * `openvle-rq serve`: the one entry point of a container. Reads the role
 * from --role or SERVICE_ROLE and runs what the application's role says:
 * a worker on the role's queues (with its concurrency and scheduler
 * setting), or, for a cron role, the application's cron schedule.
 */
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { CliError, action, withLogging, withUrl } from './common.js';
import { runCron } from './cron.js';
import { loggingFromFlags, withOps } from './ops.js';
import { loadSettings } from './settings.js';
import { appFor, roleFor, serveQueues, withAppOptions, type WorkerFlags } from './worker.js';

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .summary("run a role of the application (OpenVLE's by default): SERVICE_ROLE or --role")
    .description(
      "Runs the role named by --role, else by $SERVICE_ROLE: a worker on the role's queues, with its concurrency and\n" +
        "scheduler setting, or for a cron role (OpenVLE's 'scheduler') the application's periodic schedule.",
    )
    .option('-n, --name <name>', 'worker (or cron scheduler) name');
  withAppOptions(cmd);
  withOps(withLogging(cmd), { structuredByDefault: true });
  withUrl(cmd);
  return cmd.action(action(runServe));
}

/** SERVICE_ROLE as a .env writes it: trimmed, one pair of double quotes removed. */
function roleFromEnv(): string | undefined {
  const raw = process.env.SERVICE_ROLE?.trim().replace(/^"(.*)"$/, '$1').trim();
  return raw ? raw : undefined;
}

async function runServe(cliFlags: WorkerFlags): Promise<number> {
  // A container's logs: structured unless --log-format or LOG_FORMAT say otherwise.
  const flags: WorkerFlags = { ...cliFlags, structuredByDefault: true };
  const logging = loggingFromFlags(flags);
  const log = logging.log;
  const settings = flags.config ? await loadSettings(flags.config, (l) => log.warning(l)) : {};
  const app = await appFor(settings);
  const name = flags.role ?? roleFromEnv();
  const valid = Object.keys(app.roles ?? {});
  if (valid.length === 0) throw new CliError(`application '${app.name}' defines no roles`);
  if (name === undefined) throw new CliError(`no role given: set SERVICE_ROLE or pass --role (one of ${valid.join(', ')})`);
  const role = roleFor(app, name);
  if (role.cron) {
    if (!app.cron) throw new CliError(`role '${role.name}' runs cron, but application '${app.name}' has no cron config`);
    const file = app.cron instanceof URL || String(app.cron).startsWith('file:') ? fileURLToPath(app.cron) : String(app.cron);
    log.info(`${app.name}: role ${role.name}: running the periodic schedule`);
    return runCron(file, { ...flags, url: flags.url ?? settings.redisUrl, catchUp: 'once', name: flags.name });
  }
  log.info(`${app.name}: role ${role.name}: queues ${role.queues.join(', ')}`);
  return serveQueues({ queues: [...role.queues], flags, settings, app, role, log, logging });
}
