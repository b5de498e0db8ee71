import { randomBytes } from 'node:crypto';
import type { Job } from '../job.js';
import type { LazyAbort } from './abort.js';
import type { Lane } from './lanes.js';

/** One execution in progress on this worker. */
export interface Running {
  job: Job;
  queue: string;
  execId: string;
  member: string;
  aborter: LazyAbort;
  startedAt: number;
  /** The lane whose calls fetched it and will record its end. */
  lane: Lane;
  /** Set when the job must end as 'stopped' (stop-job) rather than failed. */
  stopRequested?: boolean;
  /** Recovered by someone else (we stalled), or handed over by a cold shutdown: don't report. */
  detached?: boolean;
  /** A parked job whose start was refused (canceled or deleted meanwhile): its end is not recorded. */
  skipped?: boolean;
  done?: Promise<void>;
}

// Execution ids: 32 hex digits as RQ's uuid4().hex, from a random
// per-process prefix and a counter; unique without a syscall per job.
const EXEC_PREFIX = randomBytes(10).toString('hex');
let execCounter = 0;
export function nextExecutionId(): string {
  return EXEC_PREFIX + (execCounter++).toString(16).padStart(12, '0');
}
