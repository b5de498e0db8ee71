import type { Redis } from 'ioredis';
import { complete, recordEnd, type EndRecord, type NextJobs, type Recorded } from '../transitions.js';
import type { Outcome } from './events.js';
import type { Running } from './running.js';

// Ends per complete.lua call: 8 cut Redis CPU per job at concurrency 50 as much as 16 did
// while leaving calls small enough to overlap with the jobs they hand out.
export const END_BATCH = 8;

/** An execution's end, waiting to be recorded with others of the same tick. */
export interface PendingEnd {
  r: Running;
  record: EndRecord;
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

  push(r: Running, record: EndRecord, recorded: (outcome: Outcome) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ends.push({ r, record, recorded, resolve, reject });
      if (this.ends.length === 1) queueMicrotask(() => this.flushAll());
    });
  }

  private flushAll(): void {
    while (this.ends.length > 0) this.flush(this.ends.splice(0, END_BATCH));
  }
}

/**
 * The script call that records `items` and asks for `next` jobs:
 * finish.lua / fail.lua for one end, complete.lua for more. Resolves to one
 * outcome per item and the jobs taken.
 */
export function recordEnds(connection: Redis, workerName: string, items: PendingEnd[], next: NextJobs): Promise<Recorded> {
  if (items.length === 1) return recordEnd(connection, workerName, items[0]!.record, next);
  return complete(connection, workerName, items.map((e) => e.record), next);
}
