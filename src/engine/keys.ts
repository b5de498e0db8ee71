/** RQ's key layout (as RQ 2.10's job.py, queue.py and registry.py name them). Lua builds the same names in lua/include/keys.lua. */
export const PREFIX = 'rq:';
export const keys = {
  queues: `${PREFIX}queues`,
  queue: (q: string) => `${PREFIX}queue:${q}`,
  job: (id: string) => `${PREFIX}job:${id}`,
  dependents: (id: string) => `${PREFIX}job:${id}:dependents`,
  dependencies: (id: string) => `${PREFIX}job::${id}:dependencies`,
  results: (id: string) => `${PREFIX}results:${id}`,
  executions: (id: string) => `${PREFIX}executions:${id}`,
  execution: (id: string, e: string) => `${PREFIX}execution:${id}:${e}`,
  registry: (kind: RegistryKind, q: string) => `${PREFIX}${kind}:${q}`,
  workers: `${PREFIX}workers`,
  workersOf: (q: string) => `${PREFIX}workers:${q}`,
  worker: (name: string) => `${PREFIX}worker:${name}`,
  workerExecutions: (name: string) => `${PREFIX}worker:${name}:executions`,
  pubsub: (name: string) => `${PREFIX}pubsub:${name}`,
  suspended: `${PREFIX}suspended`,
  schedulerLock: (q: string) => `${PREFIX}scheduler-lock:${q}`,
  scheduler: (name: string) => `${PREFIX}scheduler:${name}`,
  cronSchedulers: `${PREFIX}cron_schedulers`,
  cronScheduler: (name: string) => `${PREFIX}cron_scheduler:${name}`,
  cronJobs: (name: string) => `${PREFIX}cron_job:${name}:jobs`,
  /** Not an RQ key: an entry's next fire time, shared by every cron process. */
  cronState: (name: string, entryKey: string) => `${PREFIX}cron_job:${name}:state:${entryKey}`,
  wakeChannel: (q: string) => `${PREFIX}wake:${q}`,
  scheduledChannel: (q: string) => `${PREFIX}scheduled-wake:${q}`,
};

/** Queue names from the members of rq:queues (queue keys), sorted. */
export function queueNamesFromKeys(members: string[]): string[] {
  const prefix = keys.queue('');
  return members
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length))
    .filter((n) => QUEUE_NAME_PATTERN.test(n))
    .sort();
}

export type RegistryKind = 'wip' | 'finished' | 'failed' | 'deferred' | 'scheduled' | 'canceled';

/** RQ's job id alphabet (enforced since RQ 2.8). */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]+$/;
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Throws the one error every entry point gives for a queue name that is not RQ-safe. */
export function checkQueueName(name: string): void {
  if (typeof name !== 'string' || !QUEUE_NAME_PATTERN.test(name)) {
    throw new TypeError(`Invalid queue name '${String(name).slice(0, 80)}': use letters, digits, '_', '-' and '.'`);
  }
}
