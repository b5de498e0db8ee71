import { Dependency, Job, UnrecoverableError, currentJob } from '../../../index.js';
import { currentAttempt, parentTaskIdFromMeta } from '../../tracking/attempt.js';
import { TaskStore } from '../../tracking/store.js';
import { enqueueTracked } from '../enqueue.js';
import type { TaskServices } from '../services.js';
import { taskRef, type ContractTask } from './contract.js';
import type { EventRow, Participant, Admin } from './data.js';
import { REQUIRES_DEPENDENCIES } from './gate.js';

/** A permanent problem with the event itself (missing, or in a state the task cannot act on). */
export class EventStateError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'EventStateError';
  }
}

/**
 * What identifies this run of a deploy or archive across re-runs of the
 * same job (a crash, a retry): its Task id, or the job id when untracked.
 * Every job id of the graph starts with it, so a re-run finds its earlier
 * jobs, while a new deploy of the same event (after deployment_failed)
 * makes new ones.
 */
export function runKey(): string {
  const t = currentAttempt()?.taskId;
  if (t !== undefined) return String(t);
  try {
    return currentJob().job.id;
  } catch {
    throw new EventStateError('event tasks run inside a worker job');
  }
}

/**
 * Enqueues the steps of one event graph. Each step (and the finishing job)
 * names the enqueuing Task in its meta as `parent_task_id`: the tracking
 * recounts that Task's progress whenever one of them ends.
 */
export class GraphBuilder {
  readonly ids: string[] = [];
  private readonly parent: Record<string, unknown>;
  constructor(
    private readonly s: TaskServices,
    private readonly eventId: number,
  ) {
    const t = currentAttempt()?.taskId;
    this.parent = t === undefined ? {} : { parent_task_id: t };
  }

  /**
   * One step. With `after`, it waits for those jobs, is released even when
   * they fail, and then its gate ends it unrun unless they all finished
   * (see gate.ts): a failed clone never gets a connection.
   */
  async step(task: ContractTask, jobId: string, kwargs: Record<string, unknown>, after: string[] = []): Promise<string> {
    await enqueueTracked(this.s, taskRef(task), kwargs, {
      jobId,
      eventId: this.eventId,
      meta: { ...this.parent, ...(after.length ? { [REQUIRES_DEPENDENCIES]: true } : {}) },
      ...(after.length ? { dependsOn: new Dependency({ jobs: after, allowFailure: true }) } : {}),
    });
    this.ids.push(jobId);
    return jobId;
  }

  /** The finishing job: runs once every step ended, however it ended. */
  async finish(task: { name: string; queue: 'core_periodic'; label: string }, jobId: string): Promise<string> {
    await enqueueTracked(this.s, task, { event_id: this.eventId }, {
      jobId,
      eventId: this.eventId,
      meta: this.parent,
      ...(this.ids.length ? { dependsOn: new Dependency({ jobs: this.ids, allowFailure: true }) } : {}),
    });
    return jobId;
  }
}

export type StepEnd = 'finished' | 'failed' | 'canceled' | 'stopped' | 'unknown';

/**
 * How each step ended: the job's status while Redis keeps it, else its
 * Task row (finished jobs expire after their result TTL; the row stays).
 */
export async function stepOutcomes(s: TaskServices, ids: string[]): Promise<Map<string, StepEnd>> {
  const out = new Map<string, StepEnd>();
  const jobs = await Job.fetchMany(s.redis, ids);
  const store = new TaskStore(s.pool);
  for (const [i, id] of ids.entries()) {
    const st = jobs[i]?.status;
    if (st === 'finished' || st === 'failed' || st === 'canceled' || st === 'stopped') {
      out.set(id, st);
      continue;
    }
    const task = await store.findByJobId(id);
    out.set(id, task?.status === 'success' ? 'finished' : task?.status === 'failed' ? 'failed' : task?.status === 'canceled' ? 'canceled' : 'unknown');
  }
  return out;
}

/** The finishing job's own dependencies: the steps its graph enqueued; and the Task that enqueued them. */
export function ownDependencies(): { jobId: string; deps: string[]; parentTaskId: number | undefined } {
  try {
    const { job } = currentJob();
    return { jobId: job.id, deps: job.dependencyIds, parentTaskId: parentTaskIdFromMeta(job.meta) };
  } catch {
    throw new EventStateError('event tasks run inside a worker job');
  }
}

/**
 * The finishing job's verdict on its graph's parent Task (the deploy or
 * archive Task users look at): success with the verdict as its result, or
 * failed naming the steps that did not finish; progress 100 either way.
 * Also while the parent is still `running`: its own success may not be
 * written yet, and then is refused (see tracking/events.ts).
 */
export async function settleParent(s: TaskServices, parentTaskId: number | undefined, verdict: Record<string, unknown>, failed: string[]): Promise<void> {
  if (parentTaskId === undefined) return;
  const store = new TaskStore(s.pool);
  const guard = { onlyFrom: ['running' as const, 'success' as const, 'failed' as const] };
  if (failed.length === 0) {
    await store.setSuccess(parentTaskId, verdict, guard);
    return;
  }
  if (await store.setFailed(parentTaskId, `event ${String(verdict.event_id)} ${String(verdict.status)}: ${failed.length} step(s) did not finish: ${failed.join(', ')}`, guard)) {
    await store.setProgress(parentTaskId, 100);
  }
}

/** Placeholders a mail template of an event action may use: {user.name}, {event.name}, ... */
export function mailVariables(ev: EventRow, who: Participant | Admin, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const name = 'username' in who ? `${who.firstName} ${who.lastName}`.trim() || who.username : who.name || who.email;
  return {
    user: {
      name,
      email: who.email,
      ...('username' in who ? { username: who.username, first_name: who.firstName, last_name: who.lastName, role: who.role } : {}),
    },
    event: { id: ev.id, name: ev.name, short_name: ev.shortName, start_date: ev.startDate, end_date: ev.endDate, ...extra },
  };
}

/** One `openvle.mail.send` job per recipient, with deterministic ids (`<base>-p<id>` / `-a<id>`), so a re-run sends nothing twice. */
export async function mailEach(s: TaskServices, ev: EventRow, base: string, action: string, recipients: Array<Participant | Admin>, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const r of recipients) {
    const jobId = `${base}-${'username' in r ? 'p' : 'a'}${r.id}`;
    await enqueueTracked(s, taskRef('openvle.mail.send'), { to: r.email, action, language: r.language, variables: mailVariables(ev, r, extra), event_id: ev.id }, { jobId, eventId: ev.id });
    ids.push(jobId);
  }
  return ids;
}
