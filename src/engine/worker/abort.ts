import { JobTimeoutError } from '../errors.js';

/** Why the worker ended a job itself: its message is the failure text as is (no stack). */
export class Abort extends Error {}

/**
 * Abort state of one execution. Most tasks never look at their signal, so
 * an AbortController is made only when one does; the guard hears of an
 * abort through `listener` instead of an event listener per job.
 */
export class LazyAbort {
  reason: Error | undefined;
  listener: ((reason: Error) => void) | undefined;
  private controller: AbortController | undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.controller?.abort(reason);
    this.listener?.(reason);
  }
}

/**
 * Settles with the function's result, or rejects when the timeout passes
 * or the job is aborted, even if the function never settles.
 */
export function guard(aborter: LazyAbort, timeoutSec: number, fn: () => unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (aborter.reason) return reject(aborter.reason);
    let timer: NodeJS.Timeout | undefined;
    aborter.listener = (reason) => {
      clearTimeout(timer);
      reject(reason);
    };
    if (timeoutSec > 0) {
      // setTimeout fires at once beyond 2^31-1 ms (24.8 days): cap it there.
      timer = setTimeout(() => aborter.abort(new JobTimeoutError(timeoutSec)), Math.min(timeoutSec * 1000, 2 ** 31 - 1));
    }
    const done = () => {
      clearTimeout(timer);
      aborter.listener = undefined;
    };
    let out: unknown;
    try {
      out = fn();
    } catch (err) {
      done();
      return reject(err);
    }
    Promise.resolve(out).then(
      (v) => {
        done();
        resolve(v);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}
