import type { DequeueStrategy } from './options.js';

/** The order in which a dequeue looks at the worker's queues, per strategy (RQ's dequeue_strategy). */
export class DequeueOrder {
  private order: string[];

  constructor(
    queues: string[],
    private readonly strategy: DequeueStrategy,
  ) {
    this.order = [...queues];
  }

  /** The queue order for the next dequeue. */
  next(): string[] {
    if (this.strategy === 'random') {
      const a = [...this.order];
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    }
    return this.order;
  }

  /** Round robin moves the queue a job just came from to the back. */
  dequeuedFrom(queue: string): void {
    if (this.strategy === 'round_robin') {
      this.order = [...this.order.filter((q) => q !== queue), queue];
    }
  }
}
