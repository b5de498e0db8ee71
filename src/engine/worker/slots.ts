/**
 * How many more jobs the worker may take. A slot is either running a job
 * or reserved: asked for in a script call whose reply has not come back,
 * or freed by an end whose call will hand out its next job.
 */
export class Slots {
  /** Slots promised to script calls in flight. */
  reserved = 0;
  /** Jobs started so far (counts towards maxJobs). */
  started = 0;

  constructor(
    readonly concurrency: number,
    readonly maxJobs: number,
  ) {}

  /** Slots free for a new dequeue, given the jobs running now. */
  free(running: number): number {
    const left = this.maxJobs - this.started - this.reserved;
    return Math.max(0, Math.min(this.concurrency - running - this.reserved, left));
  }

  /** All of maxJobs have been started. */
  get exhausted(): boolean {
    return this.started >= this.maxJobs;
  }
}
