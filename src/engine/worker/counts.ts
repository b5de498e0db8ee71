import type { EndRecord, JobTotals } from '../transitions.js';
import type { Outcome } from './events.js';

/** How often a busy worker's calls carry its counters, at most. */
export const COUNTS_EVERY_MS = 1000;
/** How long a worker stays idle before it writes the counts left unsent. */
export const COUNTS_IDLE_MS = 100;

/**
 * RQ's per-worker counters (successful_job_count, failed_job_count,
 * total_working_time), kept here and written to the worker hash as totals:
 * by a busy worker's calls about once a second, by a call of their own
 * once it has been idle for COUNTS_IDLE_MS, and with its death. RQ's
 * worker adds to them in Redis per job; three commands per call (EXISTS,
 * HINCRBY, HINCRBYFLOAT) were 8 % of what a job cost our Redis at
 * concurrency 1 (bench/README.md).
 * Sidekiq's processes send their processed and failed counts with their
 * heartbeat the same way. Totals, not increments, so that a resent call
 * writes nothing new.
 */
export class JobCounts {
  private readonly t: JobTotals = { successful: 0, failed: 0, workingTime: 0 };
  private unsent = false;
  private sentAt = 0;

  /**
   * One recorded end, counted as RQ counts it: every failed attempt (a
   * retried one too) is a failure, and so is a finish whose recording
   * failed; a stale end (recovered elsewhere) was not recorded.
   */
  add(e: EndRecord, outcome: Outcome): void {
    if (outcome === 'stale') return;
    if (e.kind === 'finish' && outcome !== 'script-error') this.t.successful++;
    else this.t.failed++;
    this.t.workingTime += e.endedAt - e.startedAt;
    this.unsent = true;
  }

  /** Some totals have not been sent yet. */
  get pending(): boolean {
    return this.unsent;
  }

  /** The totals for a call to carry: when some are unsent and COUNTS_EVERY_MS has passed since the last went. */
  due(now = Date.now()): JobTotals | undefined {
    if (!this.unsent || now - this.sentAt < COUNTS_EVERY_MS) return undefined;
    return this.take(now);
  }

  /** The totals, when some are unsent, whenever a second has passed or not (an idle worker's own call). */
  take(now = Date.now()): JobTotals | undefined {
    if (!this.unsent) return undefined;
    this.unsent = false;
    this.sentAt = now;
    return this.totals();
  }

  /** The call that carried them failed: the next one carries them again. */
  notSent(): void {
    this.unsent = true;
  }

  totals(): JobTotals {
    return { ...this.t };
  }
}
