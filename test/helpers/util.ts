import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';

/** A name no other test uses, for queues and job ids. */
export function uniq(prefix = 't'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Resolves with the args of the first `event` for which `pred` holds; rejects after `ms`. */
export function waitForEvent<T extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  pred: (...args: T) => boolean = () => true,
  ms = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out waiting for '${event}'`));
    }, ms);
    const on = (...args: unknown[]) => {
      if (pred(...(args as T))) {
        clearTimeout(timer);
        emitter.off(event, on);
        resolve(args as T);
      }
    };
    emitter.on(event, on);
  });
}

/** Polls `check` until it returns a truthy value (for state that has no event, e.g. a child process' effect). */
export async function until<T>(check: () => Promise<T> | T, ms = 10_000, every = 10): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, every));
  }
}
