// The public API of openvle-rq: everything the CLI, the OpenVLE layer and
// users may import. What only the engine needs stays in src/engine.
export {
  ENGINE_VERSION,
  DEFAULT_JOB_TIMEOUT,
  DEFAULT_RESULT_TTL,
  DEFAULT_FAILURE_TTL,
  DEFAULT_WORKER_TTL,
  DEFAULT_CALLBACK_TIMEOUT,
} from './engine/defaults.js';
export { Queue, type EnqueueOptions, type EnqueueSpec } from './engine/queue.js';
export { Job, ResultType, type JobStatus, type JobResult } from './engine/job.js';
export { Worker, type WorkerOptions, type DequeueStrategy, type QueueRetry, type WorkerEvents, type Outcome, type RecoveryOutcome, type EndHook, type JobEnding } from './engine/worker/index.js';
export { Scheduler } from './engine/scheduler.js';
export { Registry } from './engine/registry.js';
export { Retry, Repeat, Dependency, Callback, type DependsOn, type DependencyOptions } from './engine/options.js';
export { TaskRegistry, taskModulePrefix, currentJob, UnknownTaskError, type JobContext, type TaskFunction } from './engine/tasks.js';
export {
  RQError,
  NoSuchJobError,
  InvalidJobOperation,
  DuplicateJobError,
  MalformedJobError,
  UnrecoverableError,
  isUnrecoverable,
  JobTimeoutError,
  describeError,
  formatTraceback,
  errorFirst,
} from './engine/errors.js';
export {
  createRedis,
  defaultRedisUrl,
  redactUrl,
  redisOptionsFromUrl,
  connectOnce,
  ConnectionConfigError,
  RedisUnreachableError,
} from './engine/connection.js';
export { keys, type RegistryKind, QUEUE_NAME_PATTERN, JOB_ID_PATTERN } from './engine/keys.js';
export { setScriptsMode, scriptsModeOf, type ScriptsMode } from './engine/scripts.js';
export { consoleLogger, silentLogger, parseLogLevel, type Logger, type LogLevel } from './engine/logger.js';
export { pyRepr, PyFloat, parseJson, pyTuple } from './engine/serializer.js';
export { parseDuration } from './engine/time.js';
export { MAX_SECONDS, checkSeconds, decodeLimits, setDecodeLimits, type DecodeLimits } from './engine/limits.js';
export { MAX_DESCRIPTION, describeCall, safeDescription, escapeControl, isSecretName, Shown } from './engine/description.js';
export { sendShutdown, sendKillHorse, sendStopJob, suspend, resume, isSuspended } from './engine/admin.js';
export { infoSnapshot, type InfoSnapshot, type QueueInfo, type WorkerInfo } from './engine/info.js';
export {
  cron,
  CronRegistry,
  CronScheduler,
  CronConfigError,
  CATCH_UP_POLICIES,
  type CronEntry,
  type CronOptions,
  type CronSchedulerOptions,
  type CronSchedulerEvents,
  type CatchUp,
} from './engine/cron/index.js';
export {
  defineApp,
  isApp,
  appServes,
  appRole,
  startApp,
  AppConfigError,
  UnknownAppRoleError,
  type App,
  type AppDescription,
  type AppRole,
  type AppInstance,
  type AppSetupContext,
  type StartedApp,
} from './engine/app.js';
