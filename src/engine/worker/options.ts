import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { TaskRegistry } from '../tasks.js';
import { checkSeconds } from '../limits.js';
import { pyJsonDumps } from '../serializer.js';
import {
  DEFAULT_CLEAN_INTERVAL,
  DEFAULT_DEAD_WORKER_TIMEOUT,
  DEFAULT_FAILURE_TTL,
  DEFAULT_IDLE_POLL_INTERVAL_MS,
  DEFAULT_JOB_MONITORING_INTERVAL,
  DEFAULT_RECOVERY_INTERVAL,
  DEFAULT_RESULT_TTL,
  DEFAULT_WORKER_LANES,
  DEFAULT_WORKER_TTL,
} from '../defaults.js';

/** The most jobs a worker may hold parked (--prefetch). */
export const MAX_PREFETCH = 1000;

export type DequeueStrategy = 'default' | 'round_robin' | 'random';

export interface WorkerOptions {
  /** Commands go here; a second connection is made from it for pub/sub. */
  connection: Redis;
  tasks: TaskRegistry;
  name?: string;
  /** Jobs run at once in this process (RQ: 1). */
  concurrency?: number;
  /** Exit when the queues are empty. */
  burst?: boolean;
  maxJobs?: number;
  /** Seconds idle before the worker exits. */
  maxIdleTime?: number;
  dequeueStrategy?: DequeueStrategy;
  /** Default result_ttl for jobs without one (RQ: 500 s). */
  resultTtl?: number;
  /** Default failure_ttl (RQ: 1 year). */
  failureTtl?: number;
  /** Worker key TTL is workerTtl + 60 while idle (RQ: 420). */
  workerTtl?: number;
  /** Seconds between heartbeats (RQ: 30; ours is shorter so that death is noticed sooner). */
  jobMonitoringInterval?: number;
  /**
   * Seconds without a heartbeat after which a running job counts as
   * abandoned and is retried or failed by any worker of its queue.
   */
  deadWorkerTimeout?: number;
  /** Seconds between passes that look for abandoned jobs. */
  recoveryInterval?: number;
  /** Seconds between passes that drop expired registry entries (RQ's clean_registries). */
  cleanInterval?: number;
  /** Ms between checks for jobs pushed by producers that do not wake us (Python RQ). */
  idlePollInterval?: number;
  withScheduler?: boolean;
  logger?: Logger;
  /** Don't log job descriptions (RQ's --disable-job-desc-logging). */
  disableJobDescLogging?: boolean;
  /** Log each job's (redacted) description when it starts; by default only its task name and id. */
  logJobDescription?: boolean;
  /**
   * Not in RQ: a default retry per queue name, for jobs that carry no retry
   * of their own (e.g. enqueued by Python without `Retry`). The fail script
   * writes it into the job as RQ's `Retry` would have (`retries_left`,
   * `retry_intervals`, end-aligned intervals), so the job looks to every
   * reader as if it had been enqueued with it. A job with its own retry
   * keeps it; an UnrecoverableError is never retried. Applies to abandoned
   * jobs this worker recovers too.
   */
  queueRetry?: Record<string, QueueRetry>;
  /**
   * Not in RQ: jobs (0 to 1000, default 0) the worker may take from its
   * queues ahead of time, parked in a list of its own and marked started
   * only when they start. Each is started by the call that records the
   * previous end, and runs while Redis records it. For many short jobs; not
   * for long ones (a parked job waits behind them while another worker
   * could have run it). See docs/design.md.
   */
  prefetch?: number;
}

/** One queue's default retry: `max` retries, waits as RQ's `Retry(max, interval)`. */
export interface QueueRetry {
  max: number;
  intervals: number | number[];
}

/**
 * The fail script's form of a queue's default retry: '' for none, else
 * '<max> <intervals as Python's json.dumps writes them>'.
 */
export function encodeQueueRetry(policy: QueueRetry | undefined): string {
  if (!policy || policy.max === 0) return '';
  const intervals = Array.isArray(policy.intervals) ? policy.intervals : [policy.intervals];
  return `${policy.max} ${pyJsonDumps(intervals.length > 0 ? intervals : [0])}`;
}

function checkQueueRetry(map: Record<string, QueueRetry>): void {
  for (const [queue, p] of Object.entries(map)) {
    const intervals = Array.isArray(p?.intervals) ? p.intervals : [p?.intervals];
    if (!p || !Number.isInteger(p.max) || p.max < 0 || intervals.some((i) => typeof i !== 'number' || !Number.isFinite(i) || i < 0)) {
      throw new TypeError(`queueRetry['${queue}'] must be {max: integer >= 0, intervals: non-negative seconds}`);
    }
  }
}

/** The options with every default filled in. */
export type ResolvedWorkerOptions = Required<
  Omit<WorkerOptions, 'connection' | 'tasks' | 'name' | 'logger' | 'maxJobs' | 'maxIdleTime' | 'queueRetry'>
> & { maxJobs: number; maxIdleTime: number; queueRetry: Map<string, string>; lanes: number };

/** Fills in defaults and refuses option values the worker cannot run with. */
export function resolveWorkerOptions(opts: WorkerOptions): ResolvedWorkerOptions {
  const o: ResolvedWorkerOptions = {
    concurrency: opts.concurrency ?? 1,
    burst: opts.burst ?? false,
    maxJobs: opts.maxJobs ?? Infinity,
    maxIdleTime: opts.maxIdleTime ?? Infinity,
    dequeueStrategy: opts.dequeueStrategy ?? 'default',
    resultTtl: opts.resultTtl ?? DEFAULT_RESULT_TTL,
    failureTtl: opts.failureTtl ?? DEFAULT_FAILURE_TTL,
    workerTtl: opts.workerTtl ?? DEFAULT_WORKER_TTL,
    jobMonitoringInterval: opts.jobMonitoringInterval ?? DEFAULT_JOB_MONITORING_INTERVAL,
    deadWorkerTimeout: opts.deadWorkerTimeout ?? DEFAULT_DEAD_WORKER_TIMEOUT,
    recoveryInterval: opts.recoveryInterval ?? DEFAULT_RECOVERY_INTERVAL,
    cleanInterval: opts.cleanInterval ?? DEFAULT_CLEAN_INTERVAL,
    idlePollInterval: opts.idlePollInterval ?? DEFAULT_IDLE_POLL_INTERVAL_MS,
    withScheduler: opts.withScheduler ?? false,
    disableJobDescLogging: opts.disableJobDescLogging ?? false,
    logJobDescription: opts.logJobDescription ?? false,
    queueRetry: new Map(),
    prefetch: opts.prefetch ?? 0,
    lanes: workerLanes(),
  };
  if (opts.queueRetry) {
    checkQueueRetry(opts.queueRetry);
    for (const [queue, p] of Object.entries(opts.queueRetry)) o.queueRetry.set(queue, encodeQueueRetry(p));
  }
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new TypeError('concurrency must be an integer >= 1');
  if (!Number.isInteger(o.prefetch) || o.prefetch < 0 || o.prefetch > MAX_PREFETCH) throw new TypeError(`prefetch must be an integer from 0 to ${MAX_PREFETCH}`);
  for (const k of ['resultTtl', 'failureTtl'] as const) checkSeconds(k, o[k], -1);
  if (!['default', 'round_robin', 'random'].includes(o.dequeueStrategy)) {
    throw new TypeError(`Unknown dequeue strategy '${o.dequeueStrategy}': use default, round_robin or random`);
  }
  if (o.deadWorkerTimeout <= o.jobMonitoringInterval * 2) {
    throw new TypeError('deadWorkerTimeout must be more than twice jobMonitoringInterval');
  }
  return o;
}

/**
 * Lanes for concurrency > 1 (lanes.ts): DEFAULT_WORKER_LANES, or
 * OPENVLE_RQ_LANES, a knob for the bench's A/B (bench/README.md) and for
 * a deployment that measures otherwise; 1 turns lanes off.
 */
function workerLanes(): number {
  const env = process.env.OPENVLE_RQ_LANES;
  if (env === undefined || env === '') return DEFAULT_WORKER_LANES;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new TypeError(`OPENVLE_RQ_LANES must be an integer from 1 to 64, not ${JSON.stringify(env)}`);
  return n;
}
