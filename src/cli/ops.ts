/**
 * The operations flags of the long-running commands (worker, cron, serve):
 * --log-format json|pretty (structured logs) and --metrics-port (Prometheus),
 * and what they switch on. Kept out of worker.ts and cron.ts so each
 * command needs three lines to take them.
 */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { Redis } from 'ioredis';
import type { Logger as Pino } from 'pino';
import type { CronScheduler, Job, Logger, Worker } from '../index.js';
import { isOpenVleQueue, loadConfig, OPENVLE_SECTIONS, retryPolicy } from '../openvle/index.js';
import { attachJobLog, attemptFromRetries, createStructuredLogger, defaultLogFormat, engineLogger, parseLogFormat, type LogFormat } from '../ops/logging.js';
import { OpsMetrics, serveMetrics, type MetricsServer } from '../ops/metrics.js';
import { CliError, intArg, loggerFromFlags, oneLine, type LoggingFlags } from './common.js';

export interface OpsFlags extends LoggingFlags {
  logFormat?: LogFormat;
  metricsPort?: number;
  metricsHost?: string;
  /** Not a flag: serve sets it, so a container logs JSON (pretty on a terminal) unless told otherwise. */
  structuredByDefault?: boolean;
}

function logFormatArg(v: string): LogFormat {
  try {
    return parseLogFormat(v);
  } catch (err) {
    throw new InvalidArgumentError(oneLine(err));
  }
}

/** Adds --log-format and --metrics-port/--metrics-host. */
export function withOps(cmd: Command, opts: { structuredByDefault?: boolean } = {}): Command {
  const fallback = opts.structuredByDefault ? 'pretty on a terminal, json otherwise' : 'rq-style text lines';
  return cmd
    .addOption(
      new Option('--log-format <format>', `json (one JSON object per line) or pretty; default: $LOG_FORMAT, else ${fallback}`).argParser(logFormatArg),
    )
    .option('--metrics-port <port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port; default: $METRICS_PORT, else none)', intArg(0))
    .option('--metrics-host <host>', 'address the metrics endpoint listens on (default: 0.0.0.0)');
}

/**
 * The format asked for: the flag, else LOG_FORMAT (json, pretty, or auto:
 * pretty on a terminal, json otherwise), else `fallback` (undefined: the
 * rq-style text lines of `worker` and `cron`).
 */
export function chosenLogFormat(flags: OpsFlags, env = process.env, fallback?: 'auto'): LogFormat | undefined {
  if (flags.logFormat) return flags.logFormat;
  const raw = env.LOG_FORMAT?.trim().toLowerCase();
  const v = raw || fallback;
  if (!v) return undefined;
  if (v === 'auto') return defaultLogFormat(process.stderr);
  try {
    return parseLogFormat(v);
  } catch {
    throw new CliError(`LOG_FORMAT must be json, pretty or auto (got '${env.LOG_FORMAT}')`);
  }
}

export interface OpsLogging {
  /** The engine's Logger: rq-style text, or pino underneath. */
  log: Logger;
  /** The structured logger, when one is in use. */
  pino?: Pino;
}

/** The logging the flags ask for; `structuredByDefault` makes structured logs the default (serve). */
export function loggingFromFlags(flags: OpsFlags, opts: { base?: Record<string, unknown> } = {}): OpsLogging {
  const text = loggerFromFlags(flags); // checks --verbose/--quiet
  const format = chosenLogFormat(flags, process.env, flags.structuredByDefault ? 'auto' : undefined);
  if (!format) return { log: text };
  const level = flags.verbose ? 'debug' : flags.quiet ? 'warning' : (flags.loggingLevel ?? 'info');
  const pino = createStructuredLogger({ level, format, base: opts.base });
  return { log: engineLogger(pino), pino };
}

/**
 * The attempt number of a job from its retries left: OpenVLE queues'
 * policies give the max (WORKER_MAX_RETRY or the fixed value), so the
 * attempt is max - left + 1; other queues' attempts are known only before
 * their first retry.
 */
export function openVleAttempt(env = process.env): (job: Job) => number | undefined {
  let maxRetry = 5;
  try {
    maxRetry = loadConfig(env, { worker: OPENVLE_SECTIONS.worker }).worker.maxRetry;
  } catch {
    /* a bad WORKER_MAX_RETRY is reported by the command that reads the config */
  }
  return (job) => {
    const q = job.origin;
    const max = isOpenVleQueue(q) ? retryPolicy(q, { worker: { maxRetry } }).max : undefined;
    return attemptFromRetries(job, max);
  };
}

/** --metrics-port, else METRICS_PORT (the containers set it in .env); undefined: no endpoint. */
export function metricsPortOf(flags: OpsFlags, env = process.env): number | undefined {
  if (flags.metricsPort !== undefined) return flags.metricsPort;
  const raw = env.METRICS_PORT?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new CliError(`METRICS_PORT must be a port number 0-65535 (got '${env.METRICS_PORT}')`);
  return n;
}

export interface Ops {
  metrics?: OpsMetrics;
  server?: MetricsServer;
  close(): Promise<void>;
}

async function startServer(metrics: OpsMetrics, port: number, flags: OpsFlags, log: Logger): Promise<MetricsServer> {
  try {
    const server = await serveMetrics(metrics.registry, port, flags.metricsHost ?? '0.0.0.0');
    log.info(`Metrics at ${server.url} (listening on ${flags.metricsHost ?? '0.0.0.0'}:${server.port})`);
    return server;
  } catch (err) {
    throw new CliError(`cannot serve metrics on ${flags.metricsHost ?? '0.0.0.0'}:${port}: ${oneLine(err)}`);
  }
}

/**
 * Job lines (with structured logs) and metrics (with --metrics-port) for a
 * worker. `isTask` bounds the task label to registered tasks.
 */
export async function startWorkerOps(
  worker: Worker,
  opts: { flags: OpsFlags; logging: OpsLogging; connection: Redis; isTask: (name: string) => boolean; sampleIntervalMs?: number },
): Promise<Ops> {
  const detach = opts.logging.pino ? attachJobLog(worker, opts.logging.pino, { attempt: openVleAttempt() }) : () => {};
  let metrics: OpsMetrics | undefined;
  let server: MetricsServer | undefined;
  const port = metricsPortOf(opts.flags);
  if (port !== undefined) {
    metrics = new OpsMetrics();
    metrics.attachWorker(worker, opts.isTask);
    metrics.watchRedis(opts.connection);
    metrics.startSampling(opts.connection, worker.queues, opts.sampleIntervalMs);
    server = await startServer(metrics, port, opts.flags, opts.logging.log);
  }
  return {
    metrics,
    server,
    close: async () => {
      detach();
      metrics?.stop();
      await server?.close();
    },
  };
}

/** Metrics (with --metrics-port) for a cron process: what it enqueued, and its entries' queues. */
export async function startCronOps(
  scheduler: CronScheduler,
  opts: { flags: OpsFlags; logging: OpsLogging; connection: Redis; queues: string[] },
): Promise<Ops> {
  const port = metricsPortOf(opts.flags);
  if (port === undefined) return { close: async () => {} };
  const metrics = new OpsMetrics();
  metrics.attachCron(scheduler);
  metrics.watchRedis(opts.connection);
  metrics.startSampling(opts.connection, [...new Set(opts.queues)]);
  const server = await startServer(metrics, port, opts.flags, opts.logging.log);
  return {
    metrics,
    server,
    close: async () => {
      metrics.stop();
      await server.close();
    },
  };
}
