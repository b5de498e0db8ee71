export { Queue, DEFAULT_JOB_TIMEOUT, type EnqueueOptions, type EnqueueSpec } from './engine/queue.js';
export { Job, ResultType, type JobStatus, type JobResult } from './engine/job.js';
export { Worker, ENGINE_VERSION, type WorkerOptions, type DequeueStrategy } from './engine/worker.js';
export { Scheduler } from './engine/scheduler.js';
export { Registry } from './engine/registry.js';
export { Retry, Dependency, Callback, type DependsOn, type DependencyOptions } from './engine/options.js';
export { TaskRegistry, currentJob, UnknownTaskError, type JobContext, type TaskFunction } from './engine/tasks.js';
export {
  RQError,
  NoSuchJobError,
  InvalidJobOperation,
  DuplicateJobError,
  MalformedJobError,
  UnrecoverableError,
  JobTimeoutError,
} from './engine/errors.js';
export { createRedis, defaultRedisUrl, redactUrl, connectOnce } from './engine/connection.js';
export { keys } from './engine/keys.js';
export { consoleLogger, silentLogger, type Logger, type LogLevel } from './engine/logger.js';
export { pyJsonDumps, encodeCall, decodeCall } from './engine/serializer.js';
export { MAX_SECONDS, checkSeconds, decodeLimits, setDecodeLimits, type DecodeLimits } from './engine/limits.js';
export { MAX_DESCRIPTION, describeCall, safeDescription, escapeControl, isSecretName } from './engine/description.js';
export { utcformat, parseUtc } from './engine/time.js';
export {
  cron,
  CronRegistry,
  CronEntry,
  CronScheduler,
  CronConfigError,
  type CronOptions,
  type CronSchedulerOptions,
  type CatchUp,
} from './engine/cron.js';
