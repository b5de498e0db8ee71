import { Job, NoSuchJobError, type DependsOn } from '../../index.js';
import { TaskStore } from '../tracking/store.js';
import type { TaskDefinition } from './define.js';
import type { TaskServices } from './services.js';

export interface TrackedEnqueue {
  /**
   * Deterministic job id (e.g. `deploy-12-clone-3-7`): a parent task re-run
   * after a crash enqueues the same ids and finds its earlier jobs instead
   * of doing their work twice.
   */
  jobId: string;
  dependsOn?: DependsOn;
  eventId?: number | null;
  createdBy?: number | null;
  /** Extra job meta (identifiers only, e.g. the event graph's `requires_dependencies`). */
  meta?: Record<string, unknown>;
}

/** What enqueueing needs of a task: its definition, or just its contract (name, queue, label) when another module defines it. */
export type TaskRef = Pick<TaskDefinition, 'name' | 'queue' | 'label' | 'jobTimeout'>;

export interface Enqueued {
  jobId: string;
  taskId: number;
  /** The job was there already (an earlier run of the caller enqueued it). */
  existed: boolean;
}

/**
 * Enqueues an OpenVLE task the way the backend does: the Task row first
 * (status queued, linked to the job id), then the job with `task_id` in
 * its meta, so users see the Task while it waits and every attempt is
 * tracked on that row.
 */
export async function enqueueTracked(s: TaskServices, def: TaskRef, kwargs: Record<string, unknown>, opts: TrackedEnqueue): Promise<Enqueued> {
  const store = new TaskStore(s.pool);
  const taskId = await store.createTask({ name: def.label, type: def.name, queue: def.queue, jobId: opts.jobId, eventId: opts.eventId ?? null, createdBy: opts.createdBy ?? null });
  try {
    await Job.fetch(s.redis, opts.jobId);
    return { jobId: opts.jobId, taskId, existed: true };
  } catch (err) {
    if (!(err instanceof NoSuchJobError)) throw err;
  }
  await s.queue(def.queue).enqueue(def.name, {
    kwargs,
    jobId: opts.jobId,
    meta: { ...opts.meta, task_id: taskId },
    ...(def.jobTimeout ? { jobTimeout: def.jobTimeout } : {}),
    ...(opts.dependsOn ? { dependsOn: opts.dependsOn } : {}),
    description: `${def.name}(${Object.entries(kwargs).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')})`,
  });
  return { jobId: opts.jobId, taskId, existed: false };
}
