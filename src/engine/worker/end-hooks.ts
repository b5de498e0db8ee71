import type { Job } from '../job.js';
import type { Logger } from '../logger.js';
import { describeError } from '../errors.js';

/**
 * How an execution ended, as its worker knows it before recording it:
 * `error` as the job-failed event gives it (message first); `stopped` when
 * a stop-job command ended it. Whether a retry follows is decided by the
 * script that records the end, so it is not known yet.
 */
export type JobEnding = { ok: true; value: unknown } | { ok: false; error: string; stopped: boolean };

/**
 * Awaited after an execution ended and before its end is recorded: until it
 * settles the job stays started, so no dependent is released and no reader
 * of Redis sees the job finished. For bookkeeping that must be in place
 * before anyone can act on the end (a tracking row of the attempt). It must
 * settle: the job's end, and its slot, wait for it.
 */
export type EndHook = (job: Job, ending: JobEnding) => Promise<void> | void;

/** The worker's end hooks; a hook that throws is logged and the end is recorded anyway. */
export class EndHooks {
  private readonly hooks = new Set<EndHook>();

  get size(): number {
    return this.hooks.size;
  }

  add(hook: EndHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  async run(job: Job, ending: JobEnding, log: Logger): Promise<void> {
    for (const hook of [...this.hooks]) {
      try {
        await hook(job, ending);
      } catch (err) {
        log.error(`end hook of ${job.id} failed: ${describeError(err)}`);
      }
    }
  }
}
