import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { callToken } from './call-token.js';
import { DEFAULT_JOB_TIMEOUT } from './defaults.js';
import { DuplicateJobError } from './errors.js';
import { Job } from './job.js';
import { JOB_ID_PATTERN, QUEUE_NAME_PATTERN, keys, queueNamesFromKeys } from './keys.js';
import { Callback, normalizeDependencies, type DependsOn, Repeat, Retry } from './options.js';
import { Registry } from './registry.js';
import { empty, enqueue } from './transitions.js';
import { describeCall, safeDescription } from './description.js';
import { checkSeconds } from './limits.js';
import { encodeCall, pyJsonDumps } from './serializer.js';
import { parseDuration } from './time.js';

export interface EnqueueOptions {
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  jobId?: string;
  /** Seconds or RQ's '<n>s|m|h|d'; -1 for no limit. Default: the queue's (180 s). */
  jobTimeout?: number | string;
  /** Seconds the finished job and its result are kept; 0 deletes at once; -1 keeps forever. Default 500 (the worker's). */
  resultTtl?: number;
  /** Seconds the job may wait in its queue before it is dropped. */
  ttl?: number;
  /** Seconds a failed job is kept. Default 1 year. */
  failureTtl?: number;
  description?: string;
  meta?: Record<string, unknown>;
  atFront?: boolean;
  retry?: Retry;
  /** Run again after each success, as RQ's Repeat (repeats_left, repeat_intervals). */
  repeat?: Repeat;
  dependsOn?: DependsOn;
  onSuccess?: Callback | string;
  onFailure?: Callback | string;
  onStopped?: Callback | string;
  /** Refuse (DuplicateJobError) when a job with jobId exists. */
  unique?: boolean;
}

export interface EnqueueSpec extends EnqueueOptions {
  func: string;
  /** Epoch milliseconds at which to enqueue; the job is scheduled until then. */
  at?: number;
}

interface PreparedJob {
  id: string;
  spec: string;
  data: Buffer;
  fields: Record<string, string>;
}

function toCallback(c: Callback | string | undefined): Callback | undefined {
  return c === undefined ? undefined : typeof c === 'string' ? new Callback(c) : c;
}

/** A named queue: rq:queue:<name>, plus its registries. */
export class Queue {
  readonly key: string;
  readonly defaultTimeout: number;

  constructor(
    readonly name: string,
    readonly connection: Redis,
    opts: { defaultTimeout?: number | string } = {},
  ) {
    if (!QUEUE_NAME_PATTERN.test(name)) {
      throw new TypeError(`Invalid queue name '${name}': use letters, digits, '_', '-' and '.'`);
    }
    this.key = keys.queue(name);
    this.defaultTimeout = opts.defaultTimeout === undefined ? DEFAULT_JOB_TIMEOUT : parseDuration(opts.defaultTimeout);
  }

  /** Every queue in rq:queues, as RQ's Queue.all. */
  static async all(connection: Redis): Promise<Queue[]> {
    return queueNamesFromKeys(await connection.smembers(keys.queues)).map((n) => new Queue(n, connection));
  }

  private prepare(spec: EnqueueSpec): PreparedJob {
    const id = spec.jobId ?? randomUUID();
    if (!JOB_ID_PATTERN.test(id)) throw new TypeError(`Invalid job id '${id}': use letters, digits, '_' and '-'`);
    if (typeof spec.func !== 'string' || spec.func === '') throw new TypeError('func must be a task name');
    const args = spec.args ?? [];
    const kwargs = spec.kwargs ?? {};
    if (!Array.isArray(args)) throw new TypeError('args must be an array');
    const timeout = spec.jobTimeout === undefined ? this.defaultTimeout : parseDuration(spec.jobTimeout);
    if (timeout === 0) throw new TypeError(`Invalid job timeout ${spec.jobTimeout}: use a positive number of seconds or -1`);
    checkSeconds('jobTimeout', timeout, -1);
    if (spec.resultTtl !== undefined) checkSeconds('resultTtl', spec.resultTtl, -1);
    if (spec.failureTtl !== undefined) checkSeconds('failureTtl', spec.failureTtl, -1);
    if (spec.ttl !== undefined) checkSeconds('ttl', spec.ttl, 1);
    const deps = normalizeDependencies(spec.dependsOn);
    if (deps && spec.unique) throw new TypeError('unique jobs cannot have dependencies (as in RQ)');
    if (spec.unique && !spec.jobId) throw new TypeError('unique needs a jobId');

    // Field order and empty strings as RQ 2.10's Job.to_dict writes them.
    const fields: Record<string, string> = {
      status: 'queued',
      success_callback_name: '',
      failure_callback_name: '',
      stopped_callback_name: '',
      started_at: '',
      ended_at: '',
      last_heartbeat: '',
      worker_name: '',
      group_id: '',
      description: spec.description === undefined ? describeCall(spec.func, args, kwargs) : safeDescription(String(spec.description)),
      timeout: String(timeout),
    };
    if (spec.resultTtl !== undefined) fields.result_ttl = String(spec.resultTtl);
    if (spec.failureTtl !== undefined) fields.failure_ttl = String(spec.failureTtl);
    if (spec.ttl !== undefined) fields.ttl = String(spec.ttl);
    if (spec.meta && Object.keys(spec.meta).length > 0) fields.meta = pyJsonDumps(spec.meta);
    for (const [kind, cb] of [
      ['success', toCallback(spec.onSuccess)],
      ['failure', toCallback(spec.onFailure)],
      ['stopped', toCallback(spec.onStopped)],
    ] as const) {
      if (cb) {
        fields[`${kind}_callback_name`] = cb.name;
        fields[`${kind}_callback_timeout`] = String(cb.timeout);
      }
    }
    if (spec.retry) {
      fields.retries_left = String(spec.retry.max);
      fields.retry_intervals = pyJsonDumps(spec.retry.intervals);
      if (spec.retry.enqueueAtFront) fields.enqueue_at_front_on_retry = '1';
    }
    if (spec.repeat) {
      fields.repeats_left = String(spec.repeat.times);
      fields.repeat_intervals = pyJsonDumps(spec.repeat.intervals);
    }
    if (deps) {
      fields.dependency_id = deps.ids[0]!;
      fields.dependency_ids = pyJsonDumps(deps.ids);
      if (deps.explicit) {
        fields.allow_dependency_failures = deps.allowFailure ? '1' : '0';
        fields.enqueue_at_front = deps.enqueueAtFront ? '1' : '0';
      }
      if (deps.cancelOnFailure) fields.dependency_failure_policy = 'cancel';
    }
    if (spec.at !== undefined) fields.status = 'scheduled';
    const body: Record<string, unknown> = { id, origin: this.name, fields };
    if (spec.atFront) body.atFront = true;
    if (spec.ttl !== undefined) body.ttl = spec.ttl;
    if (spec.unique) body.unique = true;
    if (deps) body.deps = deps.ids;
    if (spec.at !== undefined) body.scheduleAt = (spec.at / 1000).toFixed(3);
    return { id, spec: JSON.stringify(body), data: encodeCall(spec.func, args, kwargs), fields };
  }

  /** Enqueues one job; one round trip. */
  async enqueue(func: string, opts: EnqueueOptions = {}): Promise<Job> {
    const [job] = await this.enqueueMany([{ ...opts, func }]);
    return job!;
  }

  /** Schedules a job for `at` (a Date or epoch ms); the scheduler enqueues it then. */
  enqueueAt(at: Date | number, func: string, opts: EnqueueOptions = {}): Promise<Job> {
    return this.enqueue1({ ...opts, func, at: typeof at === 'number' ? at : at.getTime() });
  }

  /**
   * Schedules a job `delay` from now: seconds, as RQ's enqueue_in takes a
   * timedelta (fractions allowed: 1.5), or a typed duration '90s', '5m',
   * '2h', '1d'.
   */
  enqueueIn(delay: number | string, func: string, opts: EnqueueOptions = {}): Promise<Job> {
    const seconds = typeof delay === 'string' ? parseDuration(delay) : delay;
    if (!Number.isFinite(seconds) || seconds < 0) throw new TypeError(`enqueueIn needs a delay of 0 seconds or more, not ${String(delay)}`);
    return this.enqueue1({ ...opts, func, at: Date.now() + seconds * 1000 });
  }

  private async enqueue1(spec: EnqueueSpec): Promise<Job> {
    const [job] = await this.enqueueMany([spec]);
    return job!;
  }

  /**
   * Enqueues many jobs in one round trip (one script call per 1,000 jobs).
   * Jobs may depend on jobs earlier in the same list.
   */
  async enqueueMany(specs: EnqueueSpec[]): Promise<Job[]> {
    // Every spec is checked before the first script call: a bad one anywhere queues nothing.
    const prepared = specs.map((s) => this.prepare(s));
    const statuses: string[] = [];
    const CHUNK = 1000;
    const calls: Promise<string[]>[] = [];
    for (let i = 0; i < prepared.length; i += CHUNK) {
      const chunk = prepared.slice(i, i + CHUNK);
      // A resend after a dropped connection must not push the jobs again.
      const token = callToken(this.connection);
      calls.push(
        enqueue(this.connection, chunk, token.args).then((r) => {
          token.answered();
          return r;
        }),
      );
    }
    for (const r of await Promise.all(calls)) statuses.push(...r);
    return prepared.map((p, i) => {
      if (statuses[i] === 'duplicate') throw new DuplicateJobError(`Job ${p.id} already exists`);
      return new Job(this.connection, p.id, { ...p.fields, origin: this.name, status: statuses[i]! }, p.data);
    });
  }

  count(): Promise<number> {
    return this.connection.llen(this.key);
  }

  jobIds(offset = 0, length = -1): Promise<string[]> {
    return this.connection.lrange(this.key, offset, length < 0 ? -1 : offset + length - 1);
  }

  async jobs(offset = 0, length = -1): Promise<Job[]> {
    const found = await Job.fetchMany(this.connection, await this.jobIds(offset, length));
    return found.filter((j): j is Job => j !== null);
  }

  fetchJob(id: string): Promise<Job | null> {
    return Job.fetchOrNull(this.connection, id);
  }

  /** Removes every queued job (RQ's Queue.empty); returns how many. */
  async empty(): Promise<number> {
    return empty(this.connection, this.name);
  }

  /** RQ's Queue.delete: empties (when deleteJobs) and forgets the queue. */
  async delete(opts: { deleteJobs?: boolean } = {}): Promise<void> {
    if (opts.deleteJobs ?? true) await this.empty();
    await this.connection.multi().srem(keys.queues, this.key).del(this.key).exec();
  }

  get startedJobRegistry(): Registry {
    return new Registry(this.connection, 'wip', this.name);
  }
  get finishedJobRegistry(): Registry {
    return new Registry(this.connection, 'finished', this.name);
  }
  get failedJobRegistry(): Registry {
    return new Registry(this.connection, 'failed', this.name);
  }
  get deferredJobRegistry(): Registry {
    return new Registry(this.connection, 'deferred', this.name);
  }
  get scheduledJobRegistry(): Registry {
    return new Registry(this.connection, 'scheduled', this.name);
  }
  get canceledJobRegistry(): Registry {
    return new Registry(this.connection, 'canceled', this.name);
  }
}
