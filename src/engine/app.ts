import type { Redis } from 'ioredis';
import { QUEUE_NAME_PATTERN } from './keys.js';
import type { Logger } from './logger.js';
import { TaskRegistry, type TaskFunction } from './tasks.js';
import type { QueueRetry } from './worker/options.js';
import type { Worker } from './worker/worker.js';

/**
 * What one kind of process of an application runs: a worker on `queues`,
 * or (cron: true) the application's cron schedule. Much what an rq settings
 * module plus a deployment's command line say, kept with the application.
 */
export interface AppRole {
  description?: string;
  /** Queues in priority order; empty for a cron-only role. */
  queues: readonly string[];
  /** Jobs run at once in one process (default 1). */
  concurrency?: number;
  /** RQ's --with-scheduler. */
  withScheduler?: boolean;
  /** Runs the application's cron schedule (`cron`) instead of a worker. */
  cron?: boolean;
}

/** What `setup` is given. */
export interface AppSetupContext {
  /** The worker's (or cron scheduler's) Redis connection. */
  connection: Redis;
  log: Logger;
  /** The queues the process serves ([] for a cron-only process). */
  queues: readonly string[];
  /** The role chosen, when one was. */
  role?: string;
}

/** What `setup` made: resources the process holds until `close`. */
export interface AppInstance {
  /** Registers the tasks that need what setup made (pools, clients). */
  register?(registry: TaskRegistry): void;
  /** Per-queue default retries known only once set up (e.g. from the environment); override the description's. */
  queueRetry?: Record<string, QueueRetry>;
  /** Hooks the worker before it starts (listens to its events). */
  attach?(worker: Worker): void;
  close?(): Promise<void>;
}

export interface AppDescription {
  name: string;
  /**
   * The queues this application owns. A worker is set up for the
   * application only when it serves at least one of them; one that serves
   * none stays a plain worker (and needs none of the application's
   * resources). Default: every role's queues and every queueRetry key;
   * none at all means every queue.
   */
  queues?: readonly string[];
  /** Tasks under explicit dotted names (Python enqueues by these names). */
  tasks?: Record<string, TaskFunction>;
  roles?: Record<string, AppRole>;
  queueRetry?: Record<string, QueueRetry>;
  /** A cron config module (what `openvle-rq cron FILE` runs); cron roles run it. */
  cron?: string | URL;
  /** Makes the application's resources; called once per process, before the worker starts. */
  setup?(ctx: AppSetupContext): Promise<AppInstance> | AppInstance;
}

const APP = Symbol.for('openvle-rq.app');

export interface App extends Readonly<Omit<AppDescription, 'queues'>> {
  readonly queues: readonly string[];
  readonly [APP]: true;
}

export class AppConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppConfigError';
  }
}

/** Unknown role: one line listing the valid ones. */
export class UnknownAppRoleError extends AppConfigError {
  constructor(name: string, valid: string[]) {
    super(`Unknown role '${name}': use one of ${valid.join(', ')}`);
    this.name = 'UnknownRoleError';
  }
}

/** Checks an application description and marks it as one (see isApp). */
export function defineApp(d: AppDescription): App {
  if (!d || typeof d.name !== 'string' || d.name.trim() === '') throw new AppConfigError('an application needs a name');
  const where = `application '${d.name}'`;
  if (d.tasks) {
    // Validates names and functions as a worker's registry would.
    const probe = new TaskRegistry();
    for (const [name, fn] of Object.entries(d.tasks)) {
      try {
        probe.register(name, fn);
      } catch (err) {
        throw new AppConfigError(`${where}: ${(err as Error).message}`);
      }
    }
  }
  const owned = new Set<string>(d.queues ?? []);
  for (const [name, role] of Object.entries(d.roles ?? {})) {
    if (!role || !Array.isArray(role.queues)) throw new AppConfigError(`${where}: role '${name}' needs a queues list`);
    for (const q of role.queues) {
      if (!QUEUE_NAME_PATTERN.test(q)) throw new AppConfigError(`${where}: role '${name}': invalid queue name '${q}'`);
      if (!d.queues) owned.add(q);
    }
    if (role.queues.length === 0 && !role.cron) throw new AppConfigError(`${where}: role '${name}' has no queues and no cron`);
    if (role.cron && !d.cron) throw new AppConfigError(`${where}: role '${name}' runs cron but the application has no cron config`);
    const c = role.concurrency ?? 1;
    if (role.queues.length > 0 && (!Number.isInteger(c) || c < 1)) throw new AppConfigError(`${where}: role '${name}': concurrency must be an integer >= 1`);
  }
  if (!d.queues) for (const q of Object.keys(d.queueRetry ?? {})) owned.add(q);
  for (const q of owned) {
    if (!QUEUE_NAME_PATTERN.test(q)) throw new AppConfigError(`${where}: invalid queue name '${q}'`);
  }
  if (d.setup !== undefined && typeof d.setup !== 'function') throw new AppConfigError(`${where}: setup must be a function`);
  return Object.freeze({ ...d, queues: [...owned], [APP]: true as const });
}

export function isApp(value: unknown): value is App {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[APP] === true;
}

/**
 * Whether a worker on `queues` is one of the application's: it serves at
 * least one of its queues (an application that names no queue owns all).
 */
export function appServes(app: App, queues: readonly string[]): boolean {
  return app.queues.length === 0 || queues.some((q) => app.queues.includes(q));
}

/** The application's role of that name (exact, else case-insensitive); UnknownAppRoleError otherwise. */
export function appRole(app: App, name: string): AppRole & { name: string } {
  const roles = app.roles ?? {};
  const key = name in roles ? name : Object.keys(roles).find((k) => k.toLowerCase() === name.trim().toLowerCase());
  if (key === undefined) throw new UnknownAppRoleError(name, Object.keys(roles));
  return { ...roles[key]!, name: key };
}

/** A set-up application for one worker: its tasks registered, retries merged, hooks ready. */
export interface StartedApp {
  queueRetry: Record<string, QueueRetry>;
  attach(worker: Worker): void;
  close(): Promise<void>;
}

/**
 * Sets an application up for a worker: runs `setup`, registers the static
 * and the set-up tasks on `registry`, merges the per-queue retries.
 */
export async function startApp(app: App, registry: TaskRegistry, ctx: AppSetupContext): Promise<StartedApp> {
  for (const [name, fn] of Object.entries(app.tasks ?? {})) registry.register(name, fn);
  const inst: AppInstance = (await app.setup?.(ctx)) ?? {};
  try {
    inst.register?.(registry);
  } catch (err) {
    await inst.close?.().catch(() => {});
    throw err;
  }
  return {
    queueRetry: { ...app.queueRetry, ...inst.queueRetry },
    attach: (worker) => inst.attach?.(worker),
    close: async () => {
      await inst.close?.();
    },
  };
}
