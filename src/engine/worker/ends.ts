import type { Redis } from 'ioredis';
import { runScriptBuffer } from '../scripts.js';
import type { Outcome } from './events.js';
import type { Running } from './running.js';

// Ends per complete.lua call: 8 cut Redis CPU per job at concurrency 50 as much as 16 did
// while leaving calls small enough to overlap with the jobs they hand out.
export const END_BATCH = 8;

/** An execution's end, waiting to be recorded with others of the same tick. */
export interface PendingEnd {
  script: 'finish' | 'fail';
  r: Running;
  middle: (string | number)[];
  endedAt: number;
  recorded: (outcome: Outcome) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Collects the ends of one tick and hands them to `flush` in batches of
 * END_BATCH: calls of a few ends each, not one for all, so that while Redis
 * runs one, the jobs another call handed out run here, and neither side
 * waits for the other.
 */
export class EndQueue {
  private ends: PendingEnd[] = [];

  constructor(private readonly flush: (items: PendingEnd[]) => void) {}

  push(end: Omit<PendingEnd, 'resolve' | 'reject'>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ends.push({ ...end, resolve, reject });
      if (this.ends.length === 1) queueMicrotask(() => this.flushAll());
    });
  }

  private flushAll(): void {
    while (this.ends.length > 0) this.flush(this.ends.splice(0, END_BATCH));
  }
}

/**
 * The script call that records `items` and asks for next jobs with the
 * dequeue `tail`: finish.lua / fail.lua for one end, complete.lua for more.
 * Resolves to one outcome per item and the dequeue part of the reply.
 */
export function recordEnds(
  connection: Redis,
  workerName: string,
  items: PendingEnd[],
  tail: (string | number)[],
): Promise<[Buffer[], unknown[]]> {
  const times = (e: PendingEnd) => [e.r.startedAt.toFixed(6), e.endedAt.toFixed(6), (e.endedAt - e.r.startedAt).toFixed(6)];
  if (items.length === 1) {
    const [e] = items as [PendingEnd];
    const args = [e.r.job.id, e.r.execId, e.r.queue, workerName, ...e.middle, ...times(e), ...tail];
    return runScriptBuffer(connection, e.script, args).then((reply) => {
      const [outcome, next] = reply as [Buffer, unknown[]];
      return [[outcome], next];
    });
  }
  // complete.lua's records: 10 fields for a finish, 11 for a fail
  const args: (string | number)[] = [workerName, items.length];
  for (const e of items) args.push(e.script, e.r.job.id, e.r.execId, e.r.queue, ...e.middle, ...times(e));
  return runScriptBuffer(connection, 'complete', [...args, ...tail]) as Promise<[Buffer[], unknown[]]>;
}
