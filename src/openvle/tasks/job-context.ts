import { currentJob } from '../../index.js';
import { currentAttempt } from '../tracking/attempt.js';

/**
 * What a handler needs of the job it runs in: the abort signal to pass to
 * every client call, the job id (a key that a retry of the same job shares)
 * and the Task id. Outside a job (a handler called directly) all are
 * undefined.
 */
export interface RunContext {
  signal?: AbortSignal;
  jobId?: string;
  taskId?: number;
}

export function runContext(): RunContext {
  let signal: AbortSignal | undefined;
  let jobId: string | undefined;
  try {
    const ctx = currentJob();
    signal = ctx.signal;
    jobId = ctx.job.id;
  } catch {
    return {};
  }
  const taskId = currentAttempt()?.taskId;
  return { ...(signal ? { signal } : {}), ...(jobId ? { jobId } : {}), ...(taskId !== undefined ? { taskId } : {}) };
}
