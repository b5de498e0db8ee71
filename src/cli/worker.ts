/** `openvle-rq worker [QUEUES...]`: rq's worker command, running TypeScript/JavaScript task modules. */
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { describeError, isSuspended, TaskRegistry, taskModulePrefix, Worker, type DequeueStrategy } from '../index.js';
import {
  action,
  CliError,
  collect,
  connect,
  connectLasting,
  floatArg,
  intArg,
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
import { loggingFromFlags, startWorkerOps, withOps, type OpsFlags } from './ops.js';

interface WorkerFlags extends LoggingFlags, OpsFlags {
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
  import?: string[];
  concurrency: number;
  pid?: string;
}

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
    .option('-c, --concurrency <n>', 'jobs run at once in this process', intArg(1), 1)
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
    .option('--disable-job-desc-logging', 'log job ids without their descriptions');
  withOps(withLogging(cmd));
  cmd.option('--pid <file>', 'write the process id to this file');
  withUrl(cmd);
  return cmd.action(action(runWorker));
}

async function runWorker(queueArgs: string[], flags: WorkerFlags): Promise<number> {
  const logging = loggingFromFlags(flags);
  const log = logging.log;
  const queues = (queueArgs.length ? queueArgs : ['default']).map(queueName);
  const url = await resolveUrl(flags.url);

  // Task modules first: a module that does not load is a one-line error
  // before anything touches Redis.
  const tasks = new TaskRegistry();
  for (const m of flags.import ?? []) {
    let abs: string;
    try {
      abs = userFile(m, 'task module');
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
  if (!flags.import?.length) log.warning('No task modules given (--import): every job this worker takes will fail');
  const connection = await connectLasting(url, log);

  if (flags.pid) writeFileSync(flags.pid.replace(/^~(?=\/)/, process.env.HOME ?? '~'), String(process.pid));

  const jmi = flags.jobMonitoringInterval;
  let worker: Worker;
  try {
    worker = new Worker(queues, {
      connection,
      tasks,
      name: flags.name,
      concurrency: flags.concurrency,
      burst: Boolean(flags.burst),
      maxJobs: flags.maxJobs,
      maxIdleTime: flags.maxIdleTime,
      withScheduler: Boolean(flags.withScheduler),
      dequeueStrategy: flags.dequeueStrategy as DequeueStrategy,
      resultTtl: flags.resultsTtl,
      workerTtl: flags.workerTtl,
      ...(jmi !== undefined ? { jobMonitoringInterval: jmi, deadWorkerTimeout: Math.max(20, jmi * 4) } : {}),
      ...(flags.maintenanceInterval !== undefined ? { recoveryInterval: flags.maintenanceInterval } : {}),
      disableJobDescLogging: Boolean(flags.disableJobDescLogging),
      logger: log,
    });
  } catch (err) {
    throw new CliError(oneLine(err));
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
  const ops = await startWorkerOps(worker, { flags, logging, connection, isTask: (n) => tasks.has(n) });
  // Failures the worker recovers from are logged by the worker itself.
  worker.on('error', () => {});
  // A task that leaves a rejected promise unawaited has a bug, but the job
  // has ended already: log it rather than take the other jobs down with it.
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', (err) => log.error(`unhandled rejection in a task: ${describeError(err)}`));
  await worker.work();
  await ops.close();
  return 0;
}
