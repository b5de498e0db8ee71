import { Job } from '../job.js';
import type { TakenJob } from '../transitions.js';
import type { Running } from './running.js';

/** A job taken from a queue ahead of time, waiting in the worker's parking list. */
export interface Parked {
  job: Job;
  queue: string;
  execId: string;
  /** `${jobId}:${execId}`, its entry in rq:worker:<name>:prefetched. */
  member: string;
  /** Its run, once started. */
  run?: Running;
}

/** What one script call asks of the parking list (see `plan`). */
export interface PrefetchPlan {
  /** Parked jobs started by this call; the worker runs them as soon as the call is sent. */
  starts: Parked[];
  /** Jobs to take from the queues and start at once. */
  count: number;
  /** Jobs to take from the queues and park. */
  park: number;
}

/**
 * The jobs a worker with `--prefetch N` holds parked, in the order it will
 * start them, and the parks asked for in calls whose reply has not come.
 * A parked job is started by the call that records the previous end, and
 * the worker runs it without waiting for that call's reply: the worker's
 * work and Redis' recording of the previous end overlap.
 */
export class Prefetch {
  readonly parked: Parked[] = [];
  /** Jobs asked to be parked by calls still in flight. */
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  /** Drop messages for jobs not parked here yet: their parking call's reply may still be on its way. */
  private readonly droppedEarly = new Set<string>();

  constructor(readonly size: number) {}

  /** Nothing parked, but parked jobs are on their way: starting others now would break the queue's order. */
  get awaiting(): boolean {
    return this.parked.length === 0 && this.inFlight > 0;
  }

  /** Resolves when the calls in flight have settled. */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Execution ids of the parked jobs: the heartbeat must not hand them back. */
  execIds(): string[] {
    return this.parked.map((p) => p.execId);
  }

  /**
   * For k free slots: the parked jobs to start, how many to take from the
   * queues and start at once (only when none are parked or coming, so that
   * a queue's order holds), and how many to park, up to `size` parked or
   * coming and never more than `allowed` (maxJobs left) in all.
   */
  plan(k: number, allowed: number, mayPark: boolean): PrefetchPlan {
    const starts = this.parked.splice(0, Math.min(k, this.parked.length));
    const count = this.parked.length === 0 && this.inFlight === 0 ? k - starts.length : 0;
    const room = Math.min(this.size, allowed - starts.length - count) - this.parked.length - this.inFlight;
    const park = mayPark ? Math.max(0, room) : 0;
    this.inFlight += park;
    return { starts, count, park };
  }

  /**
   * The call of `plan` settled: `reply` is its list of parked jobs (id,
   * queue, execution id, packed hash; empty when the call failed). Returns
   * those parked now.
   */
  arrive(plan: PrefetchPlan, parked: readonly TakenJob[], connection: Job['connection']): Parked[] {
    const arrived: Parked[] = [];
    for (const t of parked) {
      const { id, execId } = t;
      if (this.droppedEarly.delete(id)) continue;
      const p = { job: Job.fromPacked(connection, id, t.packed), queue: t.queue, execId, member: `${id}:${execId}` };
      this.parked.push(p);
      arrived.push(p);
    }
    this.inFlight -= plan.park;
    if (this.inFlight === 0) {
      this.droppedEarly.clear();
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
    return arrived;
  }

  /** Cancel/delete/empty took the job out of the parking list: forget it. Whether it was parked here. */
  drop(jobId: string): boolean {
    const i = this.parked.findIndex((p) => p.job.id === jobId);
    if (i >= 0) {
      this.parked.splice(i, 1);
      return true;
    }
    if (this.inFlight > 0) this.droppedEarly.add(jobId);
    return false;
  }

  /** Every parked job, forgotten here (to be handed back). */
  takeAll(): Parked[] {
    return this.parked.splice(0, this.parked.length);
  }
}
