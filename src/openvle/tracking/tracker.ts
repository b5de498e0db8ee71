import type { Redis } from 'ioredis';
import { silentLogger, type Logger, type TaskFunction, type TaskRegistry, type Worker } from '../../index.js';
import type { Pool } from '../db/pool.js';
import { trackedHandler, type TrackedOptions } from './attempt.js';
import { attachTracking } from './events.js';
import { Reconciler, type ReconcilerOptions } from './reconciler.js';
import { retryTask } from './retry.js';
import { TaskStore } from './store.js';

export interface TaskTrackerOptions {
  pool: Pool;
  redis: Redis;
  log?: Logger;
  /** Ms between progress writes of one attempt (default 250: four a second at most). */
  progressInterval?: number;
  reconciler?: Omit<ReconcilerOptions, 'store' | 'redis' | 'log'>;
  /** Ms a job's end waits for its SubTask's write before it is recorded anyway (default 10 s). */
  endWriteWait?: number;
}

/**
 * Task/SubTask tracking for one process: wraps handlers, attaches to
 * workers, reconciles, retries. What the CLI's OpenVLE worker sets up.
 */
export class TaskTracker {
  readonly store: TaskStore;
  readonly reconciler: Reconciler;
  private readonly log: Logger;
  private readonly attachments: Array<ReturnType<typeof attachTracking>> = [];

  constructor(private readonly opts: TaskTrackerOptions) {
    this.store = new TaskStore(opts.pool);
    this.log = opts.log ?? silentLogger;
    this.reconciler = new Reconciler({ store: this.store, redis: opts.redis, log: this.log, ...opts.reconciler });
  }

  /** The handler, tracked on every attempt. */
  wrap(opts: TrackedOptions, fn: TaskFunction): TaskFunction {
    return trackedHandler({ store: this.store, log: this.log, progressInterval: this.opts.progressInterval ?? 250 }, opts, fn);
  }

  /** Registers a tracked handler under its dotted name. */
  register(registry: TaskRegistry, name: string, opts: TrackedOptions, fn: TaskFunction): void {
    registry.register(name, this.wrap(opts, fn));
  }

  /** Follows the worker's job events, and starts the reconciler (once per process). */
  attach(worker: Worker): void {
    this.attachments.push(attachTracking(worker, { store: this.store, log: this.log, endWriteWait: this.opts.endWriteWait }));
    this.reconciler.start();
  }

  /** Resolves once every tracking write the attached workers' events started is done. */
  async settled(): Promise<void> {
    await Promise.all(this.attachments.map((a) => a.settled()));
  }

  retryTask(id: number): Promise<void> {
    return retryTask(this.store, this.opts.redis, id);
  }

  async close(): Promise<void> {
    for (const a of this.attachments) a.detach();
    await this.reconciler.stop();
    await this.settled();
  }
}
