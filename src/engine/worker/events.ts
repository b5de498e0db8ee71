import type { Job } from '../job.js';

/** How the script that recorded a job's end saw it. */
export type Outcome = 'finished' | 'repeated' | 'retried' | 'scheduled' | 'failed' | 'stopped' | 'missing' | 'stale';

export interface WorkerEvents {
  started: [];
  'job-started': [job: Job];
  'job-finished': [job: Job, value: unknown];
  'job-failed': [job: Job, error: string, outcome: Outcome];
  'job-recovered': [jobId: string, outcome: string];
  /** A job this worker had been given by a dequeue whose reply was lost went back to its queue. */
  'job-handed-back': [jobId: string];
  idle: [];
  stopped: [];
  error: [err: Error];
}
