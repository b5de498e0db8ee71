import { Job } from '../../index.js';
import type { Redis } from 'ioredis';
import type { TaskStore } from './store.js';

export class TaskRetryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskRetryError';
  }
}

/**
 * Retries a failed (or canceled) Task on its own: its job goes back on its
 * queue (the engine's requeue, as RQ's FailedJobRegistry.requeue) and the
 * Task is `queued` again; the next attempt is a new SubTask. Throws a
 * TaskRetryError saying why when the Task cannot be retried.
 */
export async function retryTask(store: TaskStore, redis: Redis, id: number): Promise<void> {
  const task = await store.getTask(id);
  if (!task) throw new TaskRetryError(`No task ${id}`);
  if (task.status !== 'failed' && task.status !== 'canceled') {
    throw new TaskRetryError(`Task ${id} is ${task.status}: only a failed or canceled task can be retried`);
  }
  if (!task.jobId) throw new TaskRetryError(`Task ${id} has no job to requeue`);
  const job = await Job.fetchOrNull(redis, task.jobId);
  if (!job) throw new TaskRetryError(`Task ${id}: its job ${task.jobId} no longer exists in Redis (expired or deleted); enqueue the task again`);
  try {
    await job.requeue();
  } catch (err) {
    throw new TaskRetryError(`Task ${id}: job ${task.jobId} cannot be requeued: ${(err as Error).message}`);
  }
  await store.setQueued(id, { onlyFrom: ['failed', 'canceled'], resetProgress: true });
}
