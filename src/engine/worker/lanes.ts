import { EndQueue, type PendingEnd } from './ends.js';

/**
 * A share of the worker's slots whose jobs are fetched, ended and refilled
 * by script calls of its own. With one lane, every end of a tick goes out
 * together and worker and Redis take turns; with several, a lane's call is
 * in Redis while the jobs another lane's call handed out run here.
 */
export class Lane {
  /** Jobs of this lane running, plus its slots reserved by calls in flight. */
  busy = 0;
  readonly ends: EndQueue;

  constructor(
    readonly capacity: number,
    flush: (lane: Lane, items: PendingEnd[]) => void,
  ) {
    this.ends = new EndQueue((items) => flush(this, items));
  }

  get free(): number {
    return this.capacity - this.busy;
  }
}

export class Lanes {
  readonly all: Lane[];
  /** More than one lane: replies are handed out one per macrotask (see turn). */
  readonly split: boolean;
  private inTurn = false;
  private readonly waiting: (() => void)[] = [];

  constructor(concurrency: number, count: number, flush: (lane: Lane, items: PendingEnd[]) => void) {
    const n = Math.max(1, Math.min(count, concurrency));
    this.all = [];
    for (let i = 0; i < n; i++) this.all.push(new Lane(Math.floor(concurrency / n) + (i < concurrency % n ? 1 : 0), flush));
    this.split = n > 1;
  }

  /**
   * Runs a lane's reply handler, at most one per macrotask. The replies
   * of one socket read resolve in the same microtask checkpoint; handled
   * there together, their jobs would end in the same tick and their calls
   * travel together, and the lanes would merge into one bulk again. The
   * first runs at once (its call goes out while the next is handled), the
   * others each in a setImmediate of their own.
   */
  turn(handler: () => void): Promise<void> | void {
    if (!this.split) return handler();
    if (this.inTurn) {
      // settled when its turn comes, with whatever the handler threw
      return new Promise((resolve, reject) =>
        this.waiting.push(() => {
          try {
            handler();
            resolve();
          } catch (err) {
            reject(err);
          }
        }),
      );
    }
    this.inTurn = true;
    try {
      handler();
    } finally {
      setImmediate(this.next);
    }
  }

  private readonly next = (): void => {
    const handler = this.waiting.shift();
    if (!handler) {
      this.inTurn = false;
      return;
    }
    handler(); // a wrapper from turn(): never throws
    setImmediate(this.next);
  };
}
