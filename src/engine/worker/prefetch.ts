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

/**
 * A start sent for a job still on its way here: a call in flight parks it,
 * under an execution id the worker chose, and this one starts it by that id
 * ('*<execution id>', lua/include/prefetch.lua) without waiting for the
 * other's reply. The job runs here when it arrives.
 */
export interface BlindStart {
  execId: string;
  /** The job, once the reply that parked it came (its run starts then). */
  parked?: Parked;
}

/** What one script call asks of the parking list (see `plan`). */
export interface PrefetchPlan {
  /** Parked jobs started by this call; the worker runs them as soon as the call is sent. */
  starts: Parked[];
  /** Jobs on their way started by this call; each runs when it arrives. */
  blind: BlindStart[];
  /** Jobs to take from the queues and start at once. */
  count: number;
  /** Jobs to take from the queues and park. */
  park: number;
  /** The execution ids this call gives the jobs it parks (see `sent`). */
  parkIds: string[];
}

/**
 * The jobs a worker with `--prefetch N` holds parked, in the order it will
 * start them, and the parks asked for in calls whose reply has not come.
 * A parked job is started by the call that records the previous end, and
 * the worker runs it without waiting for that call's reply: the worker's
 * work and Redis' recording of the previous end overlap. A job still on
 * its way is started the same way, by the execution id of its parking
 * (BlindStart), so that an end never waits for the reply of the call
 * before: with N = 1, two calls are in flight while one job runs.
 */
export class Prefetch {
  readonly parked: Parked[] = [];
  /** Jobs asked to be parked by calls still in flight. */
  private inFlight = 0;
  /** Execution ids of those parkings that no blind start has claimed, oldest first. */
  private unclaimed: string[] = [];
  /** Blind starts whose call has not settled, by execution id. */
  private readonly blinds = new Map<string, BlindStart>();
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
    // Jobs on their way come next in the queue's order: start them by
    // execution id rather than wait for the reply that brings them.
    const blind: BlindStart[] = [];
    if (mayPark && this.parked.length === 0) {
      const n = Math.min(k - starts.length, allowed - starts.length, this.unclaimed.length);
      for (const execId of this.unclaimed.splice(0, Math.max(0, n))) {
        const b = { execId };
        this.blinds.set(execId, b);
        blind.push(b);
      }
    }
    const count = this.parked.length === 0 && this.inFlight === 0 ? k - starts.length : 0;
    // blind starts leave the parked-or-coming count (inFlight drops when their parking call settles)
    const room = Math.min(this.size, allowed - starts.length - blind.length - count) - this.parked.length - this.inFlight + blind.length;
    const park = mayPark ? Math.max(0, room) : 0;
    this.inFlight += park;
    return { starts, blind, count, park, parkIds: [] };
  }

  /** The call of `plan` is sent with these execution ids for its parkings: blind starts may claim them. */
  sent(plan: PrefetchPlan, parkIds: string[]): void {
    plan.parkIds = parkIds;
    this.unclaimed.push(...parkIds);
  }

  /** The call that sent these blind starts settled: they are no longer pending. */
  settleBlind(plan: PrefetchPlan): void {
    for (const b of plan.blind) this.blinds.delete(b.execId);
  }

  /**
   * The call of `plan` settled: `reply` is its list of parked jobs (id,
   * queue, execution id, job hash; empty when the call failed). Returns
   * those parked now, and the blind starts whose job came with it (to run).
   */
  arrive(plan: PrefetchPlan, parked: readonly TakenJob[], connection: Job['connection']): { arrived: Parked[]; started: BlindStart[] } {
    const arrived: Parked[] = [];
    const started: BlindStart[] = [];
    for (const t of parked) {
      const { id, execId } = t;
      if (this.droppedEarly.delete(id)) continue;
      const p = { job: new Job(connection, id, t.fields, t.data), queue: t.queue, execId, member: `${id}:${execId}` };
      const b = this.blinds.get(execId);
      if (b) {
        b.parked = p;
        started.push(b);
        continue;
      }
      this.parked.push(p);
      arrived.push(p);
    }
    // parkings that took no job (an empty queue) will not come: no blind start may claim them
    const done = new Set(plan.parkIds);
    this.unclaimed = this.unclaimed.filter((id) => !done.has(id));
    this.inFlight -= plan.park;
    if (this.inFlight === 0) {
      this.droppedEarly.clear();
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
    return { arrived, started };
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
