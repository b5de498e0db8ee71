import type { Job } from '../job.js';

/** How the script that recorded a job's end saw it. */
// script-error: recording the end failed inside the script; the job was failed with the reason instead.
// repeated: a success with Repeat runs left; the job is queued again.
export type Outcome = 'finished' | 'repeated' | 'retried' | 'scheduled' | 'failed' | 'stopped' | 'missing' | 'stale' | 'script-error';

/**
 * How a recovery pass ended a job whose worker stopped heart-beating:
 * 'ignored' when the job was terminal already (only its entry dropped);
 * 'handed-back' for a dead worker's parked job (prefetch), put back on its queue.
 */
export type RecoveryOutcome = 'retried' | 'scheduled' | 'failed' | 'ignored' | 'missing' | 'handed-back';

export interface WorkerEvents {
  started: [];
  'job-started': [job: Job];
  /**
   * outcome 'finished', or 'stale' when the execution had been recovered as
   * abandoned meanwhile and its result was dropped (recovery's outcome stands).
   */
  'job-finished': [job: Job, value: unknown, outcome: Outcome];
  /** error: the failure as describeError writes it (message first); Redis keeps it as a Python traceback. */
  'job-failed': [job: Job, error: string, outcome: Outcome];
  'job-recovered': [jobId: string, outcome: RecoveryOutcome];
  /** A job this worker had been given by a dequeue whose reply was lost went back to its queue. */
  'job-handed-back': [jobId: string];
  /** A parked job (prefetch) was canceled or deleted before it started: it was dropped, or its run aborted and not recorded. */
  'job-skipped': [jobId: string];
  idle: [];
  stopped: [];
  error: [err: Error];
}
