import type { Redis } from 'ioredis';
import { InvalidJobOperation, NoSuchJobError } from './errors.js';
import { callToken } from './call-token.js';
import { keys } from './keys.js';
import { cancel, deleteJob, metaCas, requeue, type TokenArgs } from './transitions.js';
import { decodeCall, decodeExcString, decodeReturnValue, pyJsonDumps, stripProto, type CallPayload } from './serializer.js';
import { parseUtc } from './time.js';

export type JobStatus =
  | 'created'
  | 'queued'
  | 'started'
  | 'finished'
  | 'failed'
  | 'deferred'
  | 'scheduled'
  | 'stopped'
  | 'canceled';

/** Result types of RQ's results stream. */
export enum ResultType {
  SUCCESSFUL = 1,
  FAILED = 2,
  STOPPED = 3,
  RETRIED = 4,
  MAX_RETRIES_EXCEEDED = 5,
}

export interface JobResult {
  id: string;
  type: ResultType;
  createdAt: Date;
  workerName: string;
  returnValue: unknown;
  excString: string | null;
  executionId: string | null;
}

function toInt(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

/**
 * A job as read from rq:job:<id>. Tolerant the way RQ's Job.restore is:
 * missing fields get defaults; the call payload is decoded on demand so a
 * malformed `data` field fails that job, never the reader.
 */
export class Job {
  readonly id: string;
  readonly connection: Redis;
  fields: Record<string, string>;
  data: Buffer | undefined;
  private payload: CallPayload | undefined;

  constructor(connection: Redis, id: string, fields: Record<string, string>, data: Buffer | undefined) {
    this.connection = connection;
    this.id = id;
    this.fields = fields;
    this.data = data;
  }

  /** Builds a job from an HGETALL reply whose values are Buffers. */
  static fromBufferHash(connection: Redis, id: string, hash: Record<string, Buffer>): Job {
    const fields: Record<string, string> = {};
    let data: Buffer | undefined;
    for (const [k, v] of Object.entries(hash)) {
      if (k === 'data') data = v;
      else fields[k] = v.toString('utf8');
    }
    return new Job(connection, id, fields, data);
  }

  static async fetch(connection: Redis, id: string): Promise<Job> {
    const job = await Job.fetchOrNull(connection, id);
    if (!job) throw new NoSuchJobError(`No such job: ${id}`);
    return job;
  }

  static async fetchOrNull(connection: Redis, id: string): Promise<Job | null> {
    const hash = await connection.hgetallBuffer(keys.job(id));
    if (!hash || Object.keys(hash).length === 0) return null;
    return Job.fromBufferHash(connection, id, hash);
  }

  static async fetchMany(connection: Redis, ids: string[]): Promise<(Job | null)[]> {
    if (ids.length === 0) return [];
    const pipe = connection.pipeline();
    for (const id of ids) pipe.hgetallBuffer(keys.job(id));
    const replies = (await pipe.exec()) ?? [];
    return replies.map(([err, hash], i) => {
      if (err || !hash || Object.keys(hash as object).length === 0) return null;
      return Job.fromBufferHash(connection, ids[i]!, hash as Record<string, Buffer>);
    });
  }

  /** The decoded [func, args, kwargs]; throws MalformedJobError. */
  call(): CallPayload {
    this.payload ??= decodeCall(this.data);
    return this.payload;
  }

  get funcName(): string {
    return this.call().func;
  }
  get args(): unknown[] {
    return this.call().args;
  }
  get kwargs(): Record<string, unknown> {
    return this.call().kwargs;
  }

  get status(): JobStatus {
    return (this.fields.status || 'created') as JobStatus;
  }
  get origin(): string {
    return this.fields.origin ?? '';
  }
  get description(): string | null {
    return this.fields.description ?? null;
  }
  /** Seconds; -1 is no limit; null when the hash has none (the worker uses 180). */
  get timeout(): number | null {
    return toInt(this.fields.timeout);
  }
  get resultTtl(): number | null {
    return toInt(this.fields.result_ttl);
  }
  get failureTtl(): number | null {
    return toInt(this.fields.failure_ttl);
  }
  get ttl(): number | null {
    return toInt(this.fields.ttl);
  }
  get retriesLeft(): number | null {
    return toInt(this.fields.retries_left);
  }
  get retryIntervals(): number[] {
    return parseJsonList(this.fields.retry_intervals).map(Number);
  }
  get dependencyIds(): string[] {
    return parseJsonList(this.fields.dependency_ids).map(String);
  }
  get workerName(): string | null {
    return this.fields.worker_name || null;
  }
  get createdAt(): Date | null {
    return parseUtc(this.fields.created_at);
  }
  get enqueuedAt(): Date | null {
    return parseUtc(this.fields.enqueued_at);
  }
  get startedAt(): Date | null {
    return parseUtc(this.fields.started_at);
  }
  get endedAt(): Date | null {
    return parseUtc(this.fields.ended_at);
  }
  get successCallbackName(): string {
    return this.fields.success_callback_name ?? '';
  }
  get failureCallbackName(): string {
    return this.fields.failure_callback_name ?? '';
  }
  get stoppedCallbackName(): string {
    return this.fields.stopped_callback_name ?? '';
  }
  /** Why the engine canceled this job (a dependency's failure), if it did. */
  get cancelReason(): string | null {
    return this.fields.cancel_reason ?? null;
  }

  /** meta as stored (JSON); {unserialized: raw} when it is not JSON, as RQ does. */
  get meta(): Record<string, unknown> {
    const raw = this.fields.meta;
    if (!raw) return {};
    try {
      const meta = JSON.parse(raw) as Record<string, unknown>;
      if (raw.includes('"__proto__"')) stripProto(meta);
      return meta;
    } catch {
      return { unserialized: raw };
    }
  }

  async refresh(): Promise<this> {
    const hash = await this.connection.hgetallBuffer(keys.job(this.id));
    if (!hash || Object.keys(hash).length === 0) throw new NoSuchJobError(`No such job: ${this.id}`);
    const fresh = Job.fromBufferHash(this.connection, this.id, hash);
    this.fields = fresh.fields;
    this.data = fresh.data;
    this.payload = undefined;
    return this;
  }

  async getStatus(): Promise<JobStatus | null> {
    const st = await this.connection.hget(keys.job(this.id), 'status');
    return st === null ? null : ((st || 'created') as JobStatus);
  }

  async getMeta(): Promise<Record<string, unknown>> {
    const raw = await this.connection.hget(keys.job(this.id), 'meta');
    this.fields.meta = raw ?? '';
    return this.meta;
  }

  /** Writes only the meta field, as RQ's save_meta. */
  async saveMeta(meta: Record<string, unknown>): Promise<void> {
    const text = pyJsonDumps(meta);
    await this.connection.hset(keys.job(this.id), 'meta', text);
    this.fields.meta = text;
  }

  /**
   * Not in RQ: merges `patch` into the stored meta atomically (top-level
   * keys; a key set to undefined is removed). Unlike read-then-saveMeta, a
   * concurrent writer of another key (e.g. a Python save_meta) is never
   * lost. Returns the meta as written.
   */
  async updateMeta(patch: Record<string, unknown>): Promise<Record<string, unknown>> {
    let raw = (await this.connection.hget(keys.job(this.id), 'meta')) ?? '';
    for (let i = 0; i < 50; i++) {
      this.fields.meta = raw;
      const merged: Record<string, unknown> = { ...this.meta };
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete merged[k];
        else merged[k] = v;
      }
      const text = pyJsonDumps(merged);
      const reply = await metaCas(this.connection, { id: this.id, expected: raw, meta: text });
      if (reply === 'written') {
        this.fields.meta = text;
        return merged;
      }
      if (reply === 'gone') throw new NoSuchJobError(`No such job: ${this.id}`);
      raw = reply.current;
    }
    throw new Error(`job ${this.id}: meta kept changing; update not applied`);
  }

  async latestResult(): Promise<JobResult | null> {
    const entries = await this.connection.xrevrange(keys.results(this.id), '+', '-', 'COUNT', 1);
    const entry = entries[0];
    return entry ? parseResult(entry[0], entry[1]) : null;
  }

  async results(): Promise<JobResult[]> {
    const entries = await this.connection.xrevrange(keys.results(this.id), '+', '-');
    return entries.map(([id, flat]) => parseResult(id, flat));
  }

  /** The latest successful return value, or null. */
  async returnValue(): Promise<unknown> {
    const r = await this.latestResult();
    return r && r.type === ResultType.SUCCESSFUL ? r.returnValue : null;
  }

  async cancel(opts: { enqueueDependents?: boolean } = {}): Promise<void> {
    await callJobScript(this.connection, (token) => cancel(this.connection, { id: this.id, enqueueDependents: opts.enqueueDependents ?? false }, token));
    this.fields.status = 'canceled';
  }

  async requeue(opts: { atFront?: boolean } = {}): Promise<void> {
    await callJobScript(this.connection, (token) => requeue(this.connection, { id: this.id, atFront: opts.atFront ?? false }, token));
    this.fields.status = 'queued';
  }

  async delete(opts: { deleteDependents?: boolean } = {}): Promise<void> {
    await deleteJob(this.connection, { id: this.id, deleteDependents: opts.deleteDependents ?? false });
  }
}

/**
 * Runs cancel.lua / requeue.lua with a call token (a resend after a lost
 * reply is answered as the first run was, not refused as a second cancel),
 * mapping their error replies to the engine's error classes.
 */
export async function callJobScript<T>(connection: Redis, call: (token: TokenArgs) => Promise<T>): Promise<T> {
  const token = callToken(connection);
  try {
    const reply = await call(token.args);
    token.answered();
    return reply;
  } catch (err) {
    const msg = (err as Error).message ?? '';
    const m = /(NoSuchJobError|InvalidJobOperation): (.*)$/.exec(msg);
    if (m?.[1] === 'NoSuchJobError') throw new NoSuchJobError(m[2]!);
    if (m?.[1] === 'InvalidJobOperation') throw new InvalidJobOperation(m[2]!);
    throw err;
  }
}

function parseJsonList(raw: string | undefined): unknown[] {
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function parseResult(id: string, flat: string[]): JobResult {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id,
    type: Number(f.type) as ResultType,
    createdAt: new Date(Number(id.split('-')[0])),
    workerName: f.worker_name ?? '',
    returnValue: decodeReturnValue(f.return_value),
    excString: decodeExcString(f.exc_string),
    executionId: f.execution_id ?? null,
  };
}
