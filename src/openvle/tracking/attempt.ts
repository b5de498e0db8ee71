import { currentJob, type Job, type Logger, type TaskFunction } from '../../index.js';
import { redactSecrets } from '../clients/failure.js';
import { ProgressThrottle } from './progress.js';
import type { SubTaskRow, TaskStore } from './store.js';

/** The attempt's tracking state, from the moment its SubTask exists until its end is recorded. */
export interface Attempt {
  taskId: number;
  subTask: SubTaskRow;
  progress: ProgressThrottle;
  /** Set by `followSteps()`: the Task's progress counts its step jobs, so its own success does not write 100. */
  followsSteps?: boolean;
  /**
   * When the handler returned or threw: the SubTask's end, even when the
   * row is written later; the row must not say this attempt ended after the
   * next step began.
   */
  handlerEndedAt?: Date;
  /**
   * How the worker's end hook ended the SubTask, before the engine recorded
   * the job's end; the events after the record rewrite it only when the
   * record turned out otherwise (a dropped result, a script error).
   */
  endedAs?: 'success' | 'error';
}

// Keyed by the Job object the worker hands the task and later to its
// events: the same object for one execution, a new one for the next.
// `opening` holds the attempt while its rows are being written: the engine
// may report the end (a stop-job, a timeout) before that is done, and the
// report must wait for the SubTask it ends.
const opening = new WeakMap<Job, Promise<Attempt | undefined>>();
const opened = new WeakMap<Job, Attempt>();

/** The execution's attempt, once its rows exist; undefined when it was never tracked. */
export async function attemptOf(job: Job): Promise<Attempt | undefined> {
  return opening.get(job);
}

/** Whether a tracked handler began this execution's attempt (its rows may still be on their way). */
export function isTracked(job: Job): boolean {
  return opening.has(job);
}

export function forgetAttempt(job: Job): void {
  opening.delete(job);
  opened.delete(job);
}

/**
 * MariaDB could not be reached when an attempt started: the attempt fails
 * as an ordinary (transient) error, so the job's retry policy applies, and
 * its handler does not run untracked.
 */
export class TrackingUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrackingUnavailableError';
  }
}

/** task_id from a job's meta: the backend writes a number, some producers a string. */
export function taskIdFromMeta(meta: Record<string, unknown>): number | undefined {
  const v = meta.task_id;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export interface TrackedOptions {
  /** The Task's name as users see it ("Clone VM"). */
  label: string;
  /** The SubTask's action; default: the label. */
  action?: string;
}

export interface AttemptDeps {
  store: TaskStore;
  log: Logger;
  /** Ms between progress writes. */
  progressInterval: number;
}

/** A numeric id the handler's kwargs name, for the Task's event_id. */
function eventIdOf(job: Job): number | null {
  try {
    const v = job.kwargs.event_id;
    return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null;
  } catch {
    return null;
  }
}

/**
 * Opens the attempt's tracking: finds the job's Task (meta task_id) or
 * creates it and writes task_id into the job's meta, ends SubTasks of
 * earlier attempts nobody reported on, starts this attempt's SubTask and
 * marks the Task running.
 */
async function openAttempt(deps: AttemptDeps, job: Job, workerName: string, opts: TrackedOptions): Promise<Attempt> {
  const { store } = deps;
  let taskId = taskIdFromMeta(job.meta);
  if (taskId !== undefined) {
    const found = await store.getTask(taskId);
    if (!found) {
      deps.log.warning(`job ${job.id}: its meta names task ${taskId}, which does not exist; tracking it on a new Task`);
      taskId = undefined;
    } else if (found.jobId === null) {
      // The backend made the row before it knew the job id: link them, so the reconciler can follow the job.
      await store.setJobId(taskId, job.id).catch((err: unknown) => deps.log.warning(`task ${taskId}: could not record job id ${job.id}: ${(err as Error).message}`));
    }
  }
  if (taskId === undefined) {
    taskId = await store.createTask({ name: opts.label, type: job.funcName, queue: job.origin, jobId: job.id, eventId: eventIdOf(job), status: 'running' });
    await job.updateMeta({ task_id: taskId });
  }
  const abandoned = await store.endProcessingSubTasks(taskId, 'worker died');
  if (abandoned > 0) deps.log.warning(`task ${taskId}: ${abandoned} earlier attempt(s) ended without a report: worker died`);
  const subTask = await store.startSubTask(taskId, opts.action ?? opts.label, workerName);
  // Running only once this attempt's SubTask exists: a late 'queued' about the
  // previous attempt lands before (and is overwritten here) or is refused by its
  // onlyIfLatest guard, never leaving this attempt under a queued Task.
  await store.setRunning(taskId);
  const id = taskId;
  const progress = new ProgressThrottle(
    async (percent, message) => {
      await store.setProgress(id, percent);
      if (message !== undefined) {
        await job.updateMeta({ progress: { percent, message } });
      }
    },
    deps.progressInterval,
    (err) => deps.log.warning(`task ${id}: progress not written: ${(err as Error).message}`),
  );
  return { taskId, subTask, progress };
}

/**
 * Wraps a task handler so that every attempt is tracked: the Task and a
 * `processing` SubTask exist, and the Task is `running`, before the
 * handler runs. Ending the SubTask and setting the Task's outcome is the
 * worker attachment's part (it alone knows whether a retry follows).
 */
export function trackedHandler(deps: AttemptDeps, opts: TrackedOptions, fn: TaskFunction): TaskFunction {
  return async function tracked(this: unknown, ...args: unknown[]): Promise<unknown> {
    const ctx = currentJob();
    const open = openAttempt(deps, ctx.job, ctx.workerName, opts);
    opening.set(ctx.job, open.catch(() => undefined));
    let attempt: Attempt;
    try {
      attempt = await open;
    } catch (err) {
      throw new TrackingUnavailableError(`task tracking unavailable (MariaDB or Redis): ${redactSecrets((err as Error).message)}`, { cause: err });
    }
    opened.set(ctx.job, attempt);
    // Stopped or timed out while the rows were written: the engine has already reported the end.
    if (ctx.signal.aborted) throw ctx.signal.reason;
    try {
      return await fn.apply(this, args);
    } finally {
      attempt.handlerEndedAt = new Date();
      await attempt.progress.flush();
    }
  };
}

/**
 * Reports the running attempt's progress (0–100) and an optional message
 * (kept in the job's meta as `progress`). Written at most a few times a
 * second; never throws, and does nothing outside a tracked attempt.
 */
export function progress(percent: number, message?: string): void {
  let job: Job;
  try {
    job = currentJob().job;
  } catch {
    return;
  }
  opened.get(job)?.progress.report(percent, message);
}

/**
 * Declares that the running attempt's Task is a graph parent: its success
 * leaves `progress` to its steps (jobs whose meta names it as
 * `parent_task_id`), recomputed whenever one of them ends; see
 * `TaskStore.followSteps`. Does nothing outside a tracked attempt.
 */
export function followSteps(): void {
  try {
    const a = opened.get(currentJob().job);
    if (a) a.followsSteps = true;
  } catch {
    /* not in a job */
  }
}

/** parent_task_id from a job's meta (a step of a graph whose parent Task follows its steps). */
export function parentTaskIdFromMeta(meta: Record<string, unknown>): number | undefined {
  return taskIdFromMeta({ task_id: meta.parent_task_id });
}

/** The running attempt's Task id and attempt number, or undefined outside a tracked attempt. */
export function currentAttempt(): { taskId: number; attempt: number; subTaskId: number } | undefined {
  try {
    const a = opened.get(currentJob().job);
    return a && { taskId: a.taskId, attempt: a.subTask.attempt, subTaskId: a.subTask.id };
  } catch {
    return undefined;
  }
}
