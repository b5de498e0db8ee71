import { Job, UnrecoverableError, currentJob } from '../../../index.js';

/**
 * Job meta key: the job runs only if every job it depends on finished.
 * The event graph enqueues each step with `allowFailure` so that a failed
 * parent still releases it (the engine releases dependents of a `failed`
 * parent only with allowFailure, and never those of a `canceled` one, so
 * `cancelOnFailure` chains would leave the finishing job deferred for
 * ever); this gate then ends the step at once without running it.
 */
export const REQUIRES_DEPENDENCIES = 'requires_dependencies';

/** A step of the event graph whose parent did not finish: permanent, and its handler never ran. */
export class DependencyNotMetError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyNotMetError';
  }
}

/**
 * Throws DependencyNotMetError when the running job asked for it
 * (REQUIRES_DEPENDENCIES in its meta) and one of its dependencies did not
 * finish. A dependency whose hash is gone counts as finished, as in RQ
 * (finished jobs expire after their result TTL; failed ones are kept).
 */
export async function checkDependencies(): Promise<void> {
  let job: Job;
  try {
    job = currentJob().job;
  } catch {
    return;
  }
  if (job.meta[REQUIRES_DEPENDENCIES] !== true) return;
  const ids = job.dependencyIds;
  if (ids.length === 0) return;
  const deps = await Job.fetchMany(job.connection, ids);
  deps.forEach((dep, i) => {
    if (dep && dep.status !== 'finished') throw new DependencyNotMetError(`not run: dependency ${ids[i]} ended ${dep.status}`);
  });
}
