import { AsyncLocalStorage } from 'node:async_hooks';
import { basename, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Job } from './job.js';

/** What a running task can see of itself. */
export interface JobContext {
  job: Job;
  /** Aborted when the job times out, is stopped (stop-job / kill-horse) or the worker shuts down cold. */
  signal: AbortSignal;
  /** The queue the job was dequeued from (its origin). */
  queueName: string;
  /** The name of the worker running it (rq:worker:<workerName>), as sendShutdown and sendKillHorse take it. */
  workerName: string;
}

// Tasks are plain functions called with the job's args (then kwargs, when
// non-empty), so Python's q.enqueue('tasks.add', 2, 3) runs add(2, 3).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = (...args: any[]) => unknown;

const contextStore = new AsyncLocalStorage<JobContext>();

/** The context of the job this code runs for; throws outside a job. */
export function currentJob(): JobContext {
  const ctx = contextStore.getStore();
  if (!ctx) throw new Error('currentJob() called outside a running job');
  return ctx;
}

export function runInJobContext<T>(ctx: JobContext, fn: () => T): T {
  return contextStore.run(ctx, fn);
}

export class UnknownTaskError extends Error {
  constructor(name: string, known: string[]) {
    const hint = known.length ? ` (registered: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', ...' : ''})` : '';
    super(`No task registered as '${name}' on this worker${hint}`);
    this.name = 'UnknownTaskError';
  }
}

/**
 * The task-name prefix of a module: its file's base name ('tasks' for
 * /x/tasks.ts or file:///x/tasks.ts?v=2), so that tasks.ts exporting add
 * gives 'tasks.add'. The one rule for the worker's --import, cron configs
 * and importModule.
 */
export function taskModulePrefix(pathOrUrl: string): string {
  const path = pathOrUrl.startsWith('file:') ? fileURLToPath(pathOrUrl.split('?')[0]!) : pathOrUrl;
  return basename(path, extname(path));
}

/**
 * Dotted task names to functions. A worker runs only names found here, so
 * a job can never make it import or call anything else.
 */
export class TaskRegistry {
  private readonly tasks = new Map<string, TaskFunction>();

  register(name: string, fn: TaskFunction): this {
    if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/.test(name)) {
      throw new TypeError(`Invalid task name '${name}': use a dotted name such as 'tasks.add'`);
    }
    if (typeof fn !== 'function') throw new TypeError(`Task '${name}' is not a function`);
    this.tasks.set(name, fn);
    return this;
  }

  /**
   * Registers every exported function of a module object as `<prefix>.<export>`.
   * A name already registered to another function is an error (two modules
   * with the same file base name), and then nothing of the module is registered.
   */
  registerModule(prefix: string, mod: Record<string, unknown>): string[] {
    const found: Array<[string, TaskFunction]> = [];
    for (const [exportName, value] of Object.entries(mod)) {
      if (typeof value === 'function' && exportName !== 'default') found.push([`${prefix}.${exportName}`, value as TaskFunction]);
    }
    const taken = found.filter(([name, fn]) => this.tasks.has(name) && this.tasks.get(name) !== fn).map(([name]) => name);
    if (taken.length > 0) {
      throw new TypeError(`would replace task(s) registered by another module: ${taken.join(', ')} (give the modules different file names)`);
    }
    for (const [name, fn] of found) this.register(name, fn);
    return found.map(([name]) => name);
  }

  /**
   * Imports a task module file (.ts, .js, .mjs) and registers its exported
   * functions under the file's base name: tasks.ts exporting add gives
   * 'tasks.add'. TypeScript files need the tsx loader, which the CLI installs.
   */
  async importModule(path: string, prefix?: string): Promise<string[]> {
    const abs = resolve(path);
    const mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
    return this.registerModule(prefix ?? taskModulePrefix(abs), mod);
  }

  get(name: string): TaskFunction {
    const fn = this.tasks.get(name);
    if (!fn) throw new UnknownTaskError(name, [...this.tasks.keys()]);
    return fn;
  }

  has(name: string): boolean {
    return this.tasks.has(name);
  }

  names(): string[] {
    return [...this.tasks.keys()].sort();
  }
}
