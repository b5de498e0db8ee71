/**
 * Commands to running workers and suspension of all workers, as RQ's
 * command.py and suspension.py: the same channel, payloads and key, so
 * they reach Python workers too and Python's send_* reach ours.
 */
import type { Redis } from 'ioredis';
import { InvalidJobOperation } from './errors.js';
import { Job } from './job.js';
import { keys } from './keys.js';

/** Publishes an RQ command to one worker; resolves to the number of processes that heard it. */
function sendCommand(connection: Redis, workerName: string, command: string, extra: Record<string, string> = {}): Promise<number> {
  return connection.publish(keys.pubsub(workerName), JSON.stringify({ command, ...extra }));
}

/** Asks a worker for a warm shutdown: it finishes its running jobs and takes no new ones. */
export function sendShutdown(connection: Redis, workerName: string): Promise<number> {
  return sendCommand(connection, workerName, 'shutdown');
}

/** Aborts the jobs a worker is running now; they fail (and are retried if they have retries left). */
export function sendKillHorse(connection: Redis, workerName: string): Promise<number> {
  return sendCommand(connection, workerName, 'kill-horse');
}

/**
 * Stops a running job: it ends as 'stopped' (no retry) in its failed registry.
 * Throws NoSuchJobError for an unknown job and InvalidJobOperation when the
 * job is not running, as RQ's send_stop_job_command.
 */
export async function sendStopJob(connection: Redis, jobId: string): Promise<number> {
  const job = await Job.fetch(connection, jobId);
  const worker = job.workerName;
  if (job.status !== 'started' || !worker) throw new InvalidJobOperation(`Job ${jobId} is not currently executing`);
  return sendCommand(connection, worker, 'stop-job', { job_id: jobId });
}

/** Suspends all workers (they take no new jobs), for `durationSeconds` or until resume(). */
export async function suspend(connection: Redis, durationSeconds?: number): Promise<void> {
  if (durationSeconds === undefined) {
    await connection.set(keys.suspended, '1');
    return;
  }
  if (!Number.isInteger(durationSeconds) || durationSeconds < 1) {
    throw new TypeError('The suspension duration must be an integer number of seconds >= 1');
  }
  await connection.set(keys.suspended, '1', 'EX', durationSeconds);
}

/** Ends a suspension. */
export async function resume(connection: Redis): Promise<void> {
  await connection.del(keys.suspended);
}

export async function isSuspended(connection: Redis): Promise<boolean> {
  return (await connection.exists(keys.suspended)) === 1;
}
