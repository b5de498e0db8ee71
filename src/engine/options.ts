import { DEFAULT_CALLBACK_TIMEOUT } from './defaults.js';
import { JOB_ID_PATTERN } from './keys.js';

/** Retry policy, stored as RQ stores it (retries_left, retry_intervals). */
export class Retry {
  readonly max: number;
  readonly intervals: number[];
  readonly enqueueAtFront: boolean;
  constructor(opts: { max: number; interval?: number | number[]; enqueueAtFront?: boolean }) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new TypeError('Retry max must be an integer >= 1');
    const iv = opts.interval ?? 0;
    this.intervals = Array.isArray(iv) ? [...iv] : [iv];
    if (this.intervals.length === 0 || this.intervals.some((i) => !Number.isFinite(i) || i < 0)) {
      throw new TypeError('Retry interval must be a non-negative number or a non-empty list of them');
    }
    this.max = opts.max;
    this.enqueueAtFront = opts.enqueueAtFront ?? false;
  }
}

export interface DependencyOptions {
  jobs: DependencyRef | DependencyRef[];
  /** Release the dependent when a dependency failed for good, as RQ's allow_failure. */
  allowFailure?: boolean;
  enqueueAtFront?: boolean;
  /**
   * Not in RQ: when a dependency fails for good, is stopped or canceled, cancel
   * this job (and, where they ask the same, its own dependents) instead of
   * leaving it deferred forever.
   */
  cancelOnFailure?: boolean;
}

export type DependencyRef = string | { id: string };

export class Dependency {
  readonly ids: string[];
  readonly allowFailure: boolean;
  readonly enqueueAtFront: boolean;
  readonly cancelOnFailure: boolean;
  constructor(opts: DependencyOptions) {
    const jobs = Array.isArray(opts.jobs) ? opts.jobs : [opts.jobs];
    if (jobs.length === 0) throw new TypeError('Dependency needs at least one job');
    this.ids = jobs.map((j) => (typeof j === 'string' ? j : j.id));
    this.allowFailure = opts.allowFailure ?? false;
    this.enqueueAtFront = opts.enqueueAtFront ?? false;
    this.cancelOnFailure = opts.cancelOnFailure ?? false;
  }
}

export type DependsOn = DependencyRef | Dependency | Array<DependencyRef | Dependency>;

/** Callback by registered task name, with RQ's default timeout of 60 s. */
export class Callback {
  readonly name: string;
  readonly timeout: number;
  constructor(func: string | { taskName?: string }, timeout = DEFAULT_CALLBACK_TIMEOUT) {
    const name = typeof func === 'string' ? func : func.taskName;
    if (!name) throw new TypeError('Callback needs a task name (a registered dotted name)');
    this.name = name;
    this.timeout = timeout;
  }
}

/** Flattens dependsOn into ids and the OR-ed flags, as RQ does. */
export function normalizeDependencies(dependsOn: DependsOn | undefined): {
  ids: string[];
  allowFailure: boolean;
  enqueueAtFront: boolean;
  cancelOnFailure: boolean;
  /** A Dependency object was given: RQ writes its flags only then. */
  explicit: boolean;
} | null {
  if (dependsOn === undefined || dependsOn === null) return null;
  const list = Array.isArray(dependsOn) ? dependsOn : [dependsOn];
  const ids: string[] = [];
  let allowFailure = false;
  let enqueueAtFront = false;
  let cancelOnFailure = false;
  let explicit = false;
  for (const d of list) {
    if (d instanceof Dependency) {
      explicit = true;
      ids.push(...d.ids);
      allowFailure ||= d.allowFailure;
      enqueueAtFront ||= d.enqueueAtFront;
      cancelOnFailure ||= d.cancelOnFailure;
    } else {
      ids.push(typeof d === 'string' ? d : d.id);
    }
  }
  if (ids.length === 0) return null;
  // Ids become key names inside the scripts: 'P:dependents' would name P's dependents set.
  for (const id of ids) {
    if (typeof id !== 'string' || !JOB_ID_PATTERN.test(id)) {
      throw new TypeError(`Invalid dependency id '${String(id).slice(0, 80)}': use letters, digits, '_' and '-'`);
    }
  }
  return { ids: [...new Set(ids)], allowFailure, enqueueAtFront, cancelOnFailure, explicit };
}
