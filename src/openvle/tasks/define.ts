import type { QueueName } from '../queues.js';
import type { TaskServices } from './services.js';

/**
 * One OpenVLE task: the dotted name Python enqueues by (stored in Redis, so
 * it never changes), its queue, the Task label users see, the SubTask
 * action of each attempt, and the handler. Handlers take keyword arguments
 * only and return JSON; they read secrets from MariaDB or the configuration,
 * never from their arguments.
 */
export interface TaskDefinition {
  name: string;
  queue: QueueName;
  label: string;
  action: string;
  /** Job timeout in seconds for jobs OpenVLE enqueues (RQ's default 180 s is too short for a clone). */
  jobTimeout?: number;
  run(services: TaskServices, kwargs: Record<string, unknown>): Promise<unknown>;
}

export function defineTask(d: TaskDefinition): TaskDefinition {
  return d;
}
