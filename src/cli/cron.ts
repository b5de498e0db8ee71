/**
 * `openvle-rq cron CONFIG`: loads a cron config (.ts, .js, .mjs) that calls
 * `cron.register(...)` (imported from 'openvle-rq') and enqueues its jobs on
 * schedule. Safe to run several times against one Redis (see CronScheduler).
 */
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { CATCH_UP_POLICIES, cron, CronConfigError, CronScheduler, taskModulePrefix, type CatchUp, type CronEntry } from '../index.js';
import {
  action,
  CliError,
  connect,
  connectLasting,
  oneLine,
  onShutdownSignals,
  release,
  resolveUrl,
  withLogging,
  withUrl,
  type LoggingFlags,
} from './common.js';
import { importUser, isUserModule, loadedModules, userFile } from './loader.js';
import { loggingFromFlags, startCronOps, withOps, type OpsFlags } from './ops.js';

export interface CronFlags extends LoggingFlags, OpsFlags {
  url?: string;
  catchUp: CatchUp;
  name?: string;
}

export function cronCommand(): Command {
  const cmd = new Command('cron')
    .summary('run the cron scheduler')
    .description(
      'Enqueues the jobs CONFIG registers with `import { cron } from "openvle-rq"; cron.register(func, {queueName, interval | cron, ...})`.\n' +
        'Any number of cron processes may run against one Redis: each fire time is enqueued once. The next fire time is kept\n' +
        "in Redis; fire times missed while no cron process ran are caught up according to --catch-up (default 'once': one job\n" +
        'for all of them). Cron expressions have 5 fields, or 6 with seconds first, and are read in UTC unless the entry sets tz.',
    )
    .argument('<config>', 'cron config file (.ts, .js or .mjs)');
  withLogging(cmd, { short: true })
    .addOption(new Option('--catch-up <policy>', 'missed fire times: once, all or skip (entries may set catchUp)').choices(CATCH_UP_POLICIES).default('once'))
    .option('-n, --name <name>', 'scheduler name in rq:cron_schedulers (default: <host>:<pid>:<6 hex>)');
  withOps(cmd);
  withUrl(cmd);
  return cmd.action(action(runCron));
}

/**
 * Gives function entries their task names: '<file base name>.<export>' of
 * the user module that exports them, as the worker's --import names them.
 */
async function resolveFunctions(entries: CronEntry[], configUrl: string): Promise<void> {
  const pending = entries.filter((e) => !e.resolved);
  if (pending.length === 0) return;
  const urls = (await loadedModules()).filter(isUserModule);
  // Task modules before the config itself (which may re-export them).
  urls.sort((a, b) => Number(a === configUrl) - Number(b === configUrl));
  const names = new Map<unknown, string>();
  for (const url of urls) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch {
      continue;
    }
    for (const [exp, v] of Object.entries(mod)) {
      if (typeof v === 'function' && exp !== 'default' && !names.has(v)) names.set(v, `${taskModulePrefix(url)}.${exp}`);
    }
  }
  for (const e of pending) {
    const n = names.get(e.func);
    if (n === undefined) {
      throw new CronConfigError(
        `cron entry ${e.label}: cannot tell the task name of this function; export it from a task module, ` +
          "or register it by name (cron.register('tasks.add', ...))",
      );
    }
    e.resolveFunc(n);
  }
}

/** Runs the cron config until a shutdown signal (cron, and serve's cron roles). */
export async function runCron(config: string, flags: CronFlags): Promise<number> {
  const logging = loggingFromFlags(flags);
  const log = logging.log;
  const url = await resolveUrl(flags.url);
  let abs: string;
  try {
    abs = userFile(config, 'cron config');
  } catch (err) {
    throw new CliError(oneLine(err));
  }
  // Reachable before loading the config, so an unreachable Redis is reported as such.
  await release(await connect(url));

  cron.clear();
  log.info(`Loading cron configuration from ${config}`);
  const configUrl = pathToFileURL(abs).href;
  try {
    await importUser(abs);
  } catch (err) {
    if (err instanceof CronConfigError) throw new CliError(`${config}: ${oneLine(err)}`);
    throw new CliError(`cron config '${config}' failed to load: ${oneLine(err)}`);
  }
  const entries = cron.entries();
  if (entries.length === 0) throw new CliError(`cron config '${config}' registers no jobs (call cron.register from 'openvle-rq')`);
  let scheduler: CronScheduler;
  let connection;
  try {
    await resolveFunctions(entries, configUrl);
    connection = await connectLasting(url, log);
    scheduler = new CronScheduler(connection, entries, { logger: log, configFile: config, catchUp: flags.catchUp, name: flags.name });
  } catch (err) {
    throw new CliError(`${config}: ${oneLine(err)}`);
  }

  let stopped!: () => void;
  const done = new Promise<void>((r) => (stopped = r));
  onShutdownSignals((sig) => {
    log.info(`CronScheduler ${scheduler.name}: received shutdown signal ${sig}`);
    void scheduler.stop().finally(stopped);
  });
  scheduler.on('error', () => {});
  const ops = await startCronOps(scheduler, { flags, logging, connection, queues: entries.map((e) => e.queueName) });
  await scheduler.start();
  await done;
  await ops.close();
  return 0;
}
