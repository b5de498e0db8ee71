import { errorFirst, Job, type Logger } from '../../index.js';
import type { Redis } from 'ioredis';
import { WORKER_DIED } from './events.js';
import type { TaskStore } from './store.js';

export interface ReconcilerOptions {
  store: TaskStore;
  redis: Redis;
  log: Logger;
  /** Ms between passes (every OpenVLE worker runs one; passes are idempotent). */
  interval?: number;
  /**
   * Seconds a row must be unchanged before a pass looks at it: longer than
   * the gap between a job's end and the event write that records it, so a
   * pass never races the worker that is about to report.
   */
  grace?: number;
  /**
   * Seconds a Task may name a job that does not exist yet: the backend
   * writes the row, then enqueues.
   */
  missingGrace?: number;
}

export interface ReconcileCounts {
  /** SubTasks ended as error because nobody will report on them. */
  subTasks: number;
  /** Tasks moved to follow their job. */
  tasks: number;
}

const PAGE = 200;
const MAX_PER_PASS = 2000;

/**
 * Makes Tasks follow their jobs for what no worker event reports: an
 * attempt whose worker died (its SubTask stays `processing` while the job
 * is no longer started by that worker), and jobs canceled (also by a
 * failed dependency), stopped, failed, finished, deleted or expired while
 * no tracked worker saw it.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<ReconcileCounts> | undefined;
  private readonly o: Required<Omit<ReconcilerOptions, 'store' | 'redis' | 'log'>>;

  constructor(private readonly opts: ReconcilerOptions) {
    this.o = { interval: opts.interval ?? 15_000, grace: opts.grace ?? 10, missingGrace: opts.missingGrace ?? 60 };
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.busy) return;
      void this.runOnce().catch((err: unknown) => this.opts.log.warning(`task reconciler: ${(err as Error).message}`));
    }, this.o.interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.busy?.catch(() => {});
  }

  /** One pass; concurrent calls share it. */
  runOnce(): Promise<ReconcileCounts> {
    this.busy ??= this.pass().finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async pass(): Promise<ReconcileCounts> {
    const { store, redis, log } = this.opts;
    const counts: ReconcileCounts = { subTasks: 0, tasks: 0 };

    const stale = await store.staleProcessing(this.o.grace);
    const staleJobs = await Job.fetchMany(redis, stale.map((s) => s.jobId ?? '').filter((id) => id !== ''));
    const byId = new Map(staleJobs.filter((j): j is Job => j !== null).map((j) => [j.id, j]));
    for (const s of stale) {
      const job = s.jobId ? byId.get(s.jobId) : undefined;
      // Still running where the SubTask says: alive, or not yet recovered by the engine.
      if (job && job.status === 'started' && job.workerName === s.worker) continue;
      const why = job ? WORKER_DIED : 'the job was deleted or expired';
      if (await store.abandonSubTask(s.id, why)) {
        counts.subTasks++;
        log.warning(`task ${s.taskId}: attempt ${s.attempt} on ${s.worker} ended without a report: ${why}`);
      }
    }

    let after = 0;
    for (let seen = 0; seen < MAX_PER_PASS; ) {
      const tasks = await store.openTasks(this.o.grace, after, PAGE);
      if (tasks.length === 0) break;
      seen += tasks.length;
      after = tasks[tasks.length - 1]!.id;
      const jobs = await Job.fetchMany(redis, tasks.map((t) => t.jobId!));
      for (const [i, t] of tasks.entries()) {
        const job = jobs[i];
        const open = { onlyFrom: ['queued' as const, 'running' as const] };
        let moved = false;
        if (!job) {
          if (Date.now() - t.updatedAt.getTime() < this.o.missingGrace * 1000) continue;
          await store.endProcessingSubTasks(t.id, 'the job was deleted or expired');
          moved = await store.setCanceled(t.id, 'the job was deleted or expired', open);
        } else {
          switch (job.status) {
            case 'canceled':
              moved = await store.setCanceled(t.id, job.cancelReason ?? 'the job was canceled', open);
              break;
            case 'stopped':
              moved = await store.setCanceled(t.id, 'the job was stopped', open);
              break;
            case 'failed': {
              const r = await job.latestResult();
              // Redis keeps a Python-order traceback; the Task shows the error first.
              moved = await store.setFailed(t.id, r?.excString ? errorFirst(r.excString) : 'the job failed', open);
              break;
            }
            case 'finished':
              moved = await store.setSuccess(t.id, await job.returnValue(), open);
              break;
            case 'queued':
            case 'scheduled':
            case 'deferred':
              if (t.status === 'running' && !(await store.hasProcessing(t.id))) moved = await store.setQueued(t.id, { onlyFrom: ['running'] });
              break;
            default:
              break;
          }
          if (moved && job.status !== 'queued' && job.status !== 'scheduled' && job.status !== 'deferred') {
            await store.endProcessingSubTasks(t.id, job.status === 'started' ? WORKER_DIED : `the job was ${job.status}`);
          }
        }
        if (moved) {
          counts.tasks++;
          log.info(`task ${t.id}: follows its job ${t.jobId} (${job ? job.status : 'gone'})`);
        }
      }
      if (tasks.length < PAGE) break;
    }
    return counts;
  }
}
