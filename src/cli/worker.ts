/**
 * `openvle-rq worker [QUEUES...]`: rq's worker command, running TypeScript/
 * JavaScript task modules, and the application (OpenVLE's by default, any
 * other from -c) when the worker serves one of its queues.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { writePidFile } from './pid-file.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  appRole,
  appServes,
  describeError,
  isSuspended,
  startApp,
  TaskRegistry,
  taskModulePrefix,
  Worker,
  type App,
  type AppRole,
  type DequeueStrategy,
  type StartedApp,
} from '../index.js';
import {
  action,
  CliError,
  collect,
  connect,
  connectLasting,
  floatArg,
  intArg,
  loggerFromFlags,
  oneLine,
  onShutdownSignals,
  queueName,
  release,
  resolveUrl,
  withLogging,
  withUrl,
  type LoggingFlags,
} from './common.js';
import { importUser, userFile } from './loader.js';
import { loggingFromFlags, startWorkerOps, withOps, type OpsFlags, type OpsLogging } from './ops.js';
import { loadSettings, type Settings } from './settings.js';
import { withRqWorkerFlags } from './rq-flags.js';

export interface WorkerFlags extends LoggingFlags, OpsFlags {
  url?: string;
  burst?: boolean;
  name?: string;
  maxJobs?: number;
  maxIdleTime?: number;
  withScheduler?: boolean;
  dequeueStrategy: string;
  resultsTtl?: number;
  workerTtl?: number;
  jobMonitoringInterval?: number;
  maintenanceInterval?: number;
  disableJobDescLogging?: boolean;
  logJobDescription?: boolean;
  import?: string[];
  concurrency?: number;
  prefetch?: number;
  pid?: string;
  config?: string;
  role?: string;
  /** rq's -P/--path: where relative --import modules are looked up after the current directory. */
  path?: string[];
}

/** The application to run: the settings module's, else OpenVLE's. */
export async function appFor(settings: Settings): Promise<App> {
  if (settings.app) return settings.app;
  return (await import('../openvle/index.js')).OPENVLE_APP;
}

/** The application's role of that name; one line listing the valid roles otherwise. */
export function roleFor(app: App, name: string): AppRole & { name: string } {
  try {
    return appRole(app, name);
  } catch (err) {
    throw new CliError(oneLine(err));
  }
}

/** -c/--config and --role, shared by worker and serve. */
export function withAppOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', "settings module (.ts, .js, .mjs) exporting rq's settings (REDIS_URL, QUEUES, NAME, ...) and/or an application (defineApp) as 'app' or default")
    .option('--role <role>', "run the application's role: its queues, concurrency and scheduler setting");
}

const prefetchArg = (v: string): number => {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || n > 1000) throw new InvalidArgumentError('expected an integer from 0 to 1000');
  return n;
};

export function workerCommand(): Command {
  const cmd = new Command('worker')
    .summary('start a worker')
    .description(
      'Starts a worker on QUEUES (default: "default"), running the tasks exported by the --import modules.\n' +
        'rq spellings are accepted too: -ds for --dequeue-strategy and --logging_level for --logging-level.',
    )
    .argument('[queues...]', 'queues to listen on, in priority order')
    .option('-b, --burst', 'run in burst mode (quit after all work is done)')
    .option('-n, --name <name>', 'worker name (default: 32 random hex digits)')
    .option('--import <module>', 'task module (.ts, .js, .mjs) whose exported functions become tasks named <file base name>.<export>; repeatable', collect)
    .option('--concurrency <n>', "jobs run at once in this process (default: the role's, else 1)", intArg(1))
    .option('--prefetch <n>', 'jobs (0-1000) taken ahead of time and started as the previous ones end: for many short jobs (default: 0, as RQ)', prefetchArg)
    .option('--max-jobs <n>', 'maximum number of jobs to execute', intArg(1))
    .option('--max-idle-time <seconds>', 'maximum seconds to stay alive without jobs to execute', floatArg(0))
    .option('-s, --with-scheduler', 'run the scheduler (moves scheduled jobs and retries to their queues)')
    .addOption(
      new Option('--dequeue-strategy <strategy>', 'order to dequeue from multiple queues (-ds)')
        .choices(['default', 'round_robin', 'random'])
        .default('default'),
    )
    .option('--results-ttl <seconds>', 'default result TTL of finished jobs (default: 500)', intArg(-1))
    .option('--worker-ttl <seconds>', 'worker key TTL (default: 420)', intArg(1))
    .option('--job-monitoring-interval <seconds>', 'seconds between heartbeats of running jobs (default: 5)', intArg(1))
    .option('--maintenance-interval <seconds>', 'seconds between passes that recover abandoned jobs (default: 5)', intArg(1))
    .option('--disable-job-desc-logging', 'log job ids without their descriptions')
    .option('--log-job-description', "log each job's description (secrets redacted) instead of its task name");
  withAppOptions(cmd);
  withOps(withLogging(cmd));
  cmd.option('--pid <file>', 'write the process id to this file');
  withRqWorkerFlags(cmd);
  withUrl(cmd);
  return cmd.action(action(runWorker));
}

async function runWorker(queueArgs: string[], flags: WorkerFlags): Promise<number> {
  const logging = loggingFromFlags(flags);
  const log = logging.log;
  const settings = flags.config ? await loadSettings(flags.config, (l) => log.warning(l)) : {};
  const app = await appFor(settings);
  let role: (AppRole & { name: string }) | undefined;
  if (flags.role !== undefined) {
    role = roleFor(app, flags.role);
    if (queueArgs.length > 0) throw new CliError('give either --role or queues, not both');
    if (role.cron) throw new CliError(`role '${role.name}' runs the cron schedule, not a worker: use 'openvle-rq serve --role ${role.name}'`);
  }
  const queues = (queueArgs.length ? queueArgs : role ? [...role.queues] : (settings.queues ?? ['default'])).map(queueName);
  return serveQueues({ queues, flags, settings, app, role, log, logging });
}

/** Runs a worker on `queues`, with the application when it serves one of its queues (worker and serve). */
export async function serveQueues(o: {
  queues: string[];
  flags: WorkerFlags;
  settings: Settings;
  app: App;
  role?: AppRole & { name: string };
  log: ReturnType<typeof loggerFromFlags>;
  /** Structured logging (--log-format) behind `log`, when in use. */
  logging?: OpsLogging;
}): Promise<number> {
  const { queues, flags, settings, app, role, log } = o;
  const url = await resolveUrl(flags.url ?? settings.redisUrl);

  // Task modules first: a module that does not load is a one-line error
  // before anything touches Redis.
  const tasks = new TaskRegistry();
  for (const m of flags.import ?? []) {
    let abs: string;
    try {
      // rq's -P: a relative module not in the current directory is looked up there.
      const found = isAbsolute(m) || existsSync(m) ? m : (flags.path ?? []).map((d) => join(d, m)).find((p) => existsSync(p));
      abs = userFile(found ?? m, 'task module');
    } catch (err) {
      throw new CliError(oneLine(err));
    }
    let mod: Record<string, unknown>;
    try {
      mod = await importUser(abs);
    } catch (err) {
      throw new CliError(`cannot import task module '${m}': ${oneLine(err)}`);
    }
    let names: string[];
    try {
      names = tasks.registerModule(taskModulePrefix(abs), mod);
    } catch (err) {
      throw new CliError(`task module '${m}': ${oneLine(err)}`);
    }
    log.debug(`Imported ${names.length} task(s) from ${m}: ${names.join(', ')}`);
  }

  // rq refuses to start while suspended.
  const probe = await connect(url);
  const suspended = await isSuspended(probe);
  await release(probe);
  if (suspended) throw new CliError('RQ is currently suspended, to resume job execution run "openvle-rq resume"');
  const withApp = appServes(app, queues);
  if (!flags.import?.length && !withApp) log.warning('No task modules given (--import): every job this worker takes will fail');
  const connection = await connectLasting(url, log);

  // The application's resources (OpenVLE: configuration, MariaDB and its
  // migrations, tracking) only for a worker of its queues: any other stays
  // a plain RQ worker and needs none of them.
  let started: StartedApp | undefined;
  if (withApp) {
    try {
      started = await startApp(app, tasks, { connection, log, queues, role: role?.name });
    } catch (err) {
      if (Array.isArray((err as { problems?: unknown }).problems)) throw err;
      throw new CliError(`${app.name}: ${oneLine(err)}`);
    }
    log.info(`${app.name}: set up for ${queues.join(', ')}`);
  }

  if (flags.pid) writePidFile(flags.pid.replace(/^~(?=\/)/, process.env.HOME ?? '~'));

  const jmi = flags.jobMonitoringInterval;
  let worker: Worker;
  try {
    worker = new Worker(queues, {
      connection,
      tasks,
      name: flags.name ?? settings.name,
      concurrency: flags.concurrency ?? role?.concurrency ?? 1,
      prefetch: flags.prefetch ?? 0,
      burst: Boolean(flags.burst),
      maxJobs: flags.maxJobs,
      maxIdleTime: flags.maxIdleTime,
      withScheduler: Boolean(flags.withScheduler ?? role?.withScheduler),
      dequeueStrategy: flags.dequeueStrategy as DequeueStrategy,
      resultTtl: flags.resultsTtl,
      workerTtl: flags.workerTtl,
      ...(jmi !== undefined ? { jobMonitoringInterval: jmi, deadWorkerTimeout: Math.max(20, jmi * 4) } : {}),
      ...(flags.maintenanceInterval !== undefined ? { recoveryInterval: flags.maintenanceInterval } : {}),
      disableJobDescLogging: Boolean(flags.disableJobDescLogging),
      logJobDescription: Boolean(flags.logJobDescription),
      logger: log,
      queueRetry: started?.queueRetry,
    });
  } catch (err) {
    await started?.close().catch(() => {});
    throw new CliError(oneLine(err));
  }
  started?.attach(worker);
  let ops: Awaited<ReturnType<typeof startWorkerOps>>;
  try {
    ops = await startWorkerOps(worker, { flags, logging: o.logging ?? { log }, connection, isTask: (n) => tasks.has(n) });
  } catch (err) {
    await started?.close().catch(() => {});
    throw err;
  }

  onShutdownSignals(
    (sig) => {
      log.info(`Worker ${worker.name}: ${sig} received, warm shut down requested (send it again to abort running jobs)`);
      worker.stop();
    },
    (sig) => {
      log.warning(`Worker ${worker.name}: ${sig} received again, cold shut down`);
      worker.stop({ cold: true });
    },
  );
  // Failures the worker recovers from are logged by the worker itself.
  worker.on('error', () => {});
  // A task that leaves a rejected promise unawaited has a bug, but the job
  // has ended already: log it rather than take the other jobs down with it.
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', (err) => log.error(`unhandled rejection in a task: ${describeError(err)}`));
  try {
    await worker.work();
  } finally {
    await ops.close().catch(() => {});
    await started?.close().catch((err: unknown) => log.warning(`${app.name}: close failed: ${oneLine(err)}`));
  }
  return 0;
}
