import { parseControlMessage as parseCommand } from '../control-message.js';

/** What a message on one of the worker's channels asks of it. */
export type ControlMessage =
  | { kind: 'wake' }
  | { kind: 'scheduled-wake'; queue: string; at: number }
  | { kind: 'shutdown' }
  | { kind: 'kill-horse' }
  | { kind: 'stop-job'; jobId: unknown }
  | { kind: 'drop-prefetched'; jobId: string }
  | { kind: 'malformed'; why: string }
  | { kind: 'unknown'; command: unknown };

/**
 * Reads a pub/sub message: wake-ups from producers and the scheduler, or an
 * RQ command (rq:pubsub:<worker>, JSON {"command": ..., "job_id": ...}).
 */
export function parseControlMessage(channel: string, message: string): ControlMessage {
  if (channel.startsWith('rq:wake:')) return { kind: 'wake' };
  if (channel.startsWith('rq:scheduled-wake:')) {
    return { kind: 'scheduled-wake', queue: channel.slice('rq:scheduled-wake:'.length), at: Number(message) };
  }
  // Bounded and never throwing: anyone who can publish on Redis can send one.
  const cmd = parseCommand(message);
  if ('malformed' in cmd) return { kind: 'malformed', why: cmd.malformed };
  switch (cmd.command) {
    case 'shutdown':
      return { kind: 'shutdown' };
    case 'kill-horse':
      return { kind: 'kill-horse' };
    case 'stop-job':
      return { kind: 'stop-job', jobId: cmd.job_id };
    case 'drop-prefetched':
      // Not RQ's: cancel/delete/empty took a job out of this worker's parking list.
      return typeof cmd.job_id === 'string' ? { kind: 'drop-prefetched', jobId: cmd.job_id } : { kind: 'malformed', why: 'drop-prefetched without a job_id' };
    default:
      return { kind: 'unknown', command: cmd.command };
  }
}
