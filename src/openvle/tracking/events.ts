import type { Job, JobEnding, Logger, Outcome, RecoveryOutcome, Worker } from '../../index.js';
import { attemptOf, forgetAttempt, isTracked, parentTaskIdFromMeta, taskIdFromMeta, TrackingUnavailableError } from './attempt.js';
import type { TaskStore } from './store.js';

export interface AttachDeps {
  store: TaskStore;
  log: Logger;
  /** Ms a job's end waits for its SubTask's write (default END_WRITE_WAIT_MS). */
  endWriteWait?: number;
}

/** The message a SubTask ends with when its worker died (the engine recovered the job as abandoned). */
export const WORKER_DIED = 'worker died';

/**
 * Ms a job's end waits for its SubTask's write. MariaDB hanging must not
 * hold a worker's slots; past this the end is recorded and the write after
 * it (the job events) ends the row, as late as MariaDB allows.
 */
export const END_WRITE_WAIT_MS = 10_000;

/**
 * Ends each attempt's SubTask before the worker records the job's end (its
 * end hook), and moves its Task when the worker reports how the record went:
 * success with the JSON result; `queued` while a retry waits; `failed` when
 * retries are exhausted or the error is permanent; `canceled` when stopped.
 * Also handles jobs this worker recovered as abandoned (their worker died).
 * Returns a function that detaches, and `settled()` resolves once every
 * write so far is done.
 */
export function attachTracking(worker: Worker, deps: AttachDeps): { detach: () => void; settled: () => Promise<void> } {
  const { store, log } = deps;
  const endWriteWait = deps.endWriteWait ?? END_WRITE_WAIT_MS;
  const inFlight = new Set<Promise<void>>();
  const run = (what: string, fn: () => Promise<void>) => {
    const p = fn()
      .catch((err: unknown) => log.warning(`task tracking: ${what}: ${(err as Error).message}`))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  /** A step's end moves its graph parent's progress. */
  async function followParent(job: Job): Promise<void> {
    const parent = parentTaskIdFromMeta(job.meta);
    if (parent !== undefined) await store.followSteps(parent);
  }

  async function taskIdOf(job: Job): Promise<number | undefined> {
    const fromMeta = taskIdFromMeta(job.meta);
    if (fromMeta !== undefined) return fromMeta;
    return (await store.findByJobId(job.id))?.id;
  }

  // Until this settles the job reads started in Redis and its dependents
  // stay deferred: the next step of a chain, an event's finishing job (often
  // on another worker), or anyone reading the job never sees it ended while
  // its SubTask still says processing. The Task's status waits for the
  // record (only it knows whether a retry follows).
  const onEnding = async (job: Job, ending: JobEnding): Promise<void> => {
    // Untracked jobs (other queues, a failure before the handler) cost no timer.
    if (!isTracked(job)) return;
    const write = (async () => {
      // Waits for the attempt's rows when the end came while they were being written (a stop-job).
      const a = await attemptOf(job);
      if (!a) return;
      const status = ending.ok ? 'success' : 'error';
      // A recovery may have ended the row meanwhile (worker died): it stays.
      if (await store.endSubTask(a.subTask.id, status, ending.ok ? undefined : ending.error, a.handlerEndedAt, { onlyProcessing: true })) a.endedAs = status;
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), endWriteWait)));
    try {
      if ((await Promise.race([write, late])) === 'late') log.warning(`task tracking: end of ${job.id}: its SubTask not written in ${endWriteWait} ms; recording the job's end first`);
    } catch (err) {
      log.warning(`task tracking: end of ${job.id}: its SubTask not written before the job's end: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  };

  const onFinished = (job: Job, value: unknown, outcome: Outcome) =>
    run(`end of ${job.id}`, async () => {
      const a = await attemptOf(job);
      forgetAttempt(job);
      if (!a) return;
      await a.progress.close();
      // 'stale': the result was dropped because the execution had already
      // been recovered as abandoned; the recovery's outcome stands.
      if (outcome === 'stale') {
        await store.endSubTask(a.subTask.id, 'error', 'result dropped: the attempt had been recovered as abandoned');
        return;
      }
      if (a.endedAs !== 'success') await store.endSubTask(a.subTask.id, 'success', undefined, a.handlerEndedAt);
      // A graph parent's verdict may land before this write (its finishing job
      // ran on another worker the moment the last step ended): it stands.
      const parentGuard = a.followsSteps ? { keepProgress: true, onlyFrom: ['queued' as const, 'running' as const] } : {};
      await store.setSuccess(a.taskId, value, { onlyIfLatest: a.subTask.attempt, ...parentGuard });
      // After the status write, so that the recount sees it; a parent counts steps that ended before its own result existed.
      if (a.followsSteps) await store.followSteps(a.taskId);
      await followParent(job);
    });

  const onFailed = (job: Job, text: string, outcome: Outcome) =>
    run(`failure of ${job.id}`, async () => {
      const a = await attemptOf(job);
      forgetAttempt(job);
      if (a) {
        await a.progress.close();
        if (a.endedAs !== 'error') await store.endSubTask(a.subTask.id, 'error', text, a.handlerEndedAt);
      }
      const taskId = a?.taskId ?? (await taskIdOf(job));
      if (taskId === undefined) return;
      const guard = { onlyIfLatest: a?.subTask.attempt };
      switch (outcome) {
        case 'retried':
        case 'scheduled':
          await store.setQueued(taskId, { ...guard, error: text });
          break;
        case 'failed':
          await store.setFailed(taskId, text, guard);
          break;
        case 'stopped':
          await store.setCanceled(taskId, `stopped: ${text}`, guard);
          break;
        case 'missing':
          await store.setCanceled(taskId, 'the job was deleted while it ran', guard);
          break;
        default:
          // 'stale': recovered as abandoned meanwhile; the recovery's outcome stands.
          break;
      }
      await followParent(job);
      if (!a && !(text.startsWith(TrackingUnavailableError.name))) {
        log.warning(`job ${job.id} (task ${taskId}) failed before its attempt was tracked`);
      }
    });

  const onRecovered = (jobId: string, outcome: RecoveryOutcome) =>
    run(`recovery of ${jobId}`, async () => {
      const task = await store.findByJobId(jobId);
      if (!task) return;
      await store.endProcessingSubTasks(task.id, WORKER_DIED);
      const open = { onlyFrom: ['queued' as const, 'running' as const] };
      switch (outcome) {
        case 'retried':
        case 'scheduled':
          await store.setQueued(task.id, { ...open, error: WORKER_DIED });
          break;
        case 'failed':
          await store.setFailed(task.id, `${WORKER_DIED} (the job was abandoned and had no retries left)`, open);
          break;
        case 'missing':
          await store.setCanceled(task.id, 'the job was deleted', open);
          break;
        default:
          break;
      }
    });

  const removeHook = worker.addEndHook(onEnding);
  worker.on('job-finished', onFinished);
  worker.on('job-failed', onFailed);
  worker.on('job-recovered', onRecovered);
  return {
    detach: () => {
      removeHook();
      worker.off('job-finished', onFinished);
      worker.off('job-failed', onFailed);
      worker.off('job-recovered', onRecovered);
    },
    settled: async () => {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
