/**
 * OpenVLE as an application of the engine (defineApp): its queues, roles,
 * per-queue retries, periodic schedule, and what a worker of its queues
 * sets up: configuration from the environment, MariaDB with migrations,
 * Task tracking, the task handlers and their services. The CLI's `worker`
 * and `serve` load it by default.
 */
import { currentJob, defineApp, type AppInstance, type AppRole, type AppSetupContext, type TaskFunction, type TaskRegistry } from '../index.js';
import { loadConfig } from './config/config.js';
import { QUEUE_NAMES, isOpenVleQueue, retryPolicy } from './queues.js';
import { ROLES } from './roles.js';
import { startOpenVle } from './runtime.js';
import { OPENVLE_TASKS, createTaskServices, registerOpenVleTasks } from './tasks/index.js';
import type { TaskTracker } from './tracking/tracker.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** The periodic schedule (a cron config), what the scheduler role runs. */
export const SCHEDULE_FILE = new URL(`./schedule${ext}`, import.meta.url);

/**
 * A task that is not one of OpenVLE's (a module given with --import) is
 * tracked too when its job comes from an OpenVLE queue: every job there gets
 * its Task and SubTasks, whoever enqueued it. On other queues it runs as is.
 */
function trackOnOpenVleQueues(tracker: TaskTracker, name: string, fn: TaskFunction): TaskFunction {
  const tracked = tracker.wrap({ label: name }, fn);
  return function (this: unknown, ...args: unknown[]) {
    return (isOpenVleQueue(currentJob().queueName) ? tracked : fn).apply(this, args);
  };
}

async function setup(ctx: AppSetupContext): Promise<AppInstance> {
  // ConfigError: one line per bad variable, never a secret's value.
  const config = loadConfig(process.env);
  const rt = await startOpenVle({ mariadb: config.mariadb, redis: ctx.connection, log: ctx.log });
  if (rt.applied.length > 0) ctx.log.info(`OpenVLE: applied migration(s) ${rt.applied.join(', ')}`);
  const services = createTaskServices({ config, pool: rt.pool, redis: ctx.connection, log: ctx.log });
  const own = new Set(OPENVLE_TASKS.map((t) => t.name));
  return {
    register(registry: TaskRegistry) {
      for (const name of registry.names()) {
        if (!own.has(name)) registry.register(name, trackOnOpenVleQueues(rt.tracker, name, registry.get(name)));
      }
      registerOpenVleTasks(registry, rt.tracker, services);
    },
    queueRetry: Object.fromEntries(QUEUE_NAMES.map((q) => [q, retryPolicy(q, config)])),
    attach: (worker) => rt.tracker.attach(worker),
    close: async () => {
      await services.close();
      await rt.close();
    },
  };
}

const roles: Record<string, AppRole> = Object.fromEntries(
  Object.values(ROLES).map((r) => [
    r.name,
    { description: r.description, queues: r.queues, concurrency: r.concurrency || undefined, withScheduler: r.withScheduler, cron: r.cron },
  ]),
);

export const OPENVLE_APP = defineApp({
  name: 'openvle',
  queues: QUEUE_NAMES,
  roles,
  cron: SCHEDULE_FILE,
  setup,
});
