// One typed call per Lua transition (lua/<name>.lua): each function here
// owns its script's ARGV layout and reads its reply, so that no caller
// builds positional arguments by hand. The layouts are documented in each
// script's header; keep the two in step.
import type { Redis } from 'ioredis';
import { PackedReader } from './packed.js';
import { runScript, runScriptBuffer, type Arg } from './scripts.js';
import type { Outcome, RecoveryOutcome } from './worker/events.js';

/** A call token's ARGV tail (callToken(connection).args): makes a resend answer as the first run did. */
export type TokenArgs = readonly string[];

/**
 * RQ's per-worker counters (successful_job_count, failed_job_count,
 * total_working_time), as the totals a worker keeps of the ends its calls
 * recorded; written as they are (write_counts in lua/include/worker-state.lua).
 */
export interface JobTotals {
  successful: number;
  failed: number;
  /** seconds */
  workingTime: number;
}

function pushTotals(args: Arg[], t: JobTotals): void {
  args.push(t.successful, t.failed, t.workingTime.toFixed(6));
}

/** What a worker asks for next jobs with: dequeue.lua, and the dequeue tail of finish/fail/complete. */
export interface NextJobs {
  /** how many jobs at most (0: none; the call only settles the worker's state) */
  count: number;
  /** seconds a wip entry lives without a heartbeat */
  hbTtl: number;
  /** seconds an execution key lives without a heartbeat */
  execTtl: number;
  /** in the order they are tried */
  queues: readonly string[];
  /** one fresh execution id per job that may be taken (count, then one per job to park) */
  execIds: readonly string[];
  /** a worker with --prefetch: parked members ('job:execution') it starts now, and how many jobs to park */
  prefetch?: { start: readonly string[]; park: number };
  /** the worker's totals, to be written by this call */
  counts?: JobTotals;
}

/** Appends a dequeue tail's ARGV to args (one array per call: ends and tail are pushed, not spread). */
function pushNextArgs(args: Arg[], n: NextJobs): Arg[] {
  if (n.counts) {
    args.push('counts');
    pushTotals(args, n.counts);
  }
  if (n.prefetch) {
    args.push('prefetch', n.prefetch.start.length);
    for (const m of n.prefetch.start) args.push(m);
    args.push(n.prefetch.park);
  }
  args.push(n.count, n.hbTtl, n.execTtl, n.queues.length);
  for (const q of n.queues) args.push(q);
  for (const e of n.execIds) args.push(e);
  return args;
}

/** A job a dequeue took and marked started (or parked), with its hash as the call read it. */
export interface TakenJob {
  id: string;
  queue: string;
  execId: string;
  /** the job hash's fields but `data` */
  fields: Record<string, string>;
  /** the job's `data` field (bytes), if it has one */
  data: Buffer | undefined;
}

/** What a dequeue (or a dequeue tail) gave: the jobs taken, or 'suspended' while rq:suspended exists. */
export type Taken = TakenJob[] | 'suspended';

function readTaken(r: PackedReader): Taken {
  const n = r.array();
  if (n === 1 && r.str() === 'suspended') return 'suspended';
  const out: TakenJob[] = [];
  for (let i = 0; i + 3 < n; i += 4) {
    const id = r.str();
    const queue = r.str();
    const execId = r.str();
    const h = r.hash();
    out.push({ id, queue, execId, fields: h.fields, data: h.data });
  }
  return out;
}

/** What a call with a dequeue tail gave: the jobs taken and, with prefetch, what became of the parked ones. */
export interface Next {
  taken: Taken;
  prefetched?: {
    /** per member of next.prefetch.start: its start was recorded (false: canceled, deleted or handed back meanwhile) */
    accepted: boolean[];
    /** jobs parked by this call (status still queued) */
    parked: TakenJob[];
  };
}

function readNext(r: PackedReader, n: NextJobs): Next {
  if (!n.prefetch) return { taken: readTaken(r) };
  r.array(); // { starts, started, parked }
  const accepted: boolean[] = [];
  for (let i = 0, k = r.array(); i < k; i++) accepted.push(r.int() === 1);
  const taken = readTaken(r);
  const p = readTaken(r);
  return { taken, prefetched: { accepted, parked: p === 'suspended' ? [] : p } };
}

/** A packed reply (see lua/dequeue.lua), checked to be one. */
function packedReply(reply: unknown, script: string): PackedReader {
  if (!Buffer.isBuffer(reply)) throw new TypeError(`${script}.lua: expected a packed reply, got ${typeof reply}`);
  return new PackedReader(reply);
}

// dequeue, recordEnd and complete run once per call of a busy worker: a
// then() where an async function would add two promises, each of which
// pays the async hooks that AsyncLocalStorage (currentJob()) turns on.

/** dequeue.lua: up to next.count jobs of `worker`, each marked started in the same call (and parks, with prefetch). */
export function dequeue(redis: Redis, worker: string, next: NextJobs): Promise<Next> {
  return runScriptBuffer(redis, 'dequeue', pushNextArgs([worker], next)).then((reply) => readNext(packedReply(reply, 'dequeue'), next));
}

/** unpark.lua: parked members of `worker` go back to the front of their queues (all of them when members is empty); those handed back. */
export async function unpark(redis: Redis, a: { worker: string; members: readonly string[] }): Promise<string[]> {
  return ((await runScript(redis, 'unpark', [a.worker, ...a.members])) as unknown[]).map(String);
}

/** Which execution an end record is of, and its times (float epoch seconds). */
export interface EndOf {
  id: string;
  execId: string;
  queue: string;
  startedAt: number;
  endedAt: number;
}

/** A successful execution, as finish.lua records it. */
export interface FinishRecord extends EndOf {
  kind: 'finish';
  /** base64 of the JSON return value, '' for None */
  returnValue: string;
  /** the job's result_ttl, else the worker's default */
  resultTtl: number;
  /** the job has dependency_ids */
  hasDependencies: boolean;
  /** the job had repeats left when dequeued (repeats_left > 0): only then does the script read it */
  repeats: boolean;
}

/** A failed execution, as fail.lua records it. */
export interface FailRecord extends EndOf {
  kind: 'fail';
  mode: 'failed' | 'stopped' | 'unrecoverable';
  /** base64 zlib of the traceback text (encodeExcString) */
  excString: string;
  /** the worker's default failure_ttl */
  failureTtl: number;
  /** the worker's default retry for the queue: '' for none, else '<max> <intervals JSON>' */
  queueRetry: string;
}

export type EndRecord = FinishRecord | FailRecord;

/** Appends a record's fields after id, execution id, queue (and worker, for finish/fail): the kind's own, then the times. */
function pushRecordFields(args: Arg[], e: EndRecord): void {
  if (e.kind === 'finish') args.push(e.returnValue, e.resultTtl, (e.hasDependencies ? '1' : '') + (e.repeats ? 'r' : ''));
  else args.push(e.mode, e.excString, e.failureTtl, e.queueRetry);
  args.push(e.startedAt.toFixed(6), e.endedAt.toFixed(6));
}

/** What recording ends gave: one outcome per record, then the next jobs. */
export interface Recorded {
  outcomes: Outcome[];
  next: Next;
}

/** finish.lua or fail.lua: records one end and takes the next jobs in the same call. */
export function recordEnd(redis: Redis, worker: string, e: EndRecord, next: NextJobs): Promise<Recorded> {
  const args: Arg[] = [e.id, e.execId, e.queue, worker];
  pushRecordFields(args, e);
  return runScriptBuffer(redis, e.kind, pushNextArgs(args, next)).then((reply) => {
    const r = packedReply(reply, e.kind);
    r.array(); // { outcome, next }
    const outcome = r.str() as Outcome;
    return { outcomes: [outcome], next: readNext(r, next) };
  });
}

/** complete.lua: records several ends of one worker, then takes its next jobs, in one call. */
export function complete(redis: Redis, worker: string, ends: readonly EndRecord[], next: NextJobs): Promise<Recorded> {
  const args: Arg[] = [worker, ends.length];
  for (const e of ends) {
    args.push(e.kind, e.id, e.execId, e.queue);
    pushRecordFields(args, e);
  }
  return runScriptBuffer(redis, 'complete', pushNextArgs(args, next)).then((reply) => {
    const r = packedReply(reply, 'complete');
    r.array(); // { outcomes, next }
    const outcomes: Outcome[] = [];
    for (let i = 0, k = r.array(); i < k; i++) outcomes.push(r.str() as Outcome);
    return { outcomes, next: readNext(r, next) };
  });
}

/** enqueue.lua's per-job input: its spec (JSON, see the script) and its data (zlib bytes). */
export interface EnqueueItem {
  spec: string;
  data: string | Buffer;
}

/** enqueue.lua: one status per job ('queued', 'deferred', 'scheduled', 'canceled' or 'duplicate'). */
export async function enqueue(redis: Redis, jobs: readonly EnqueueItem[], token: TokenArgs): Promise<string[]> {
  const args: Arg[] = [String(jobs.length)];
  for (const j of jobs) args.push(j.spec, j.data);
  return (await runScript(redis, 'enqueue', [...args, ...token])) as string[];
}

export interface HeartbeatArgs {
  worker: string;
  /** seconds the worker key lives */
  workerTtl: number;
  hbTtl: number;
  execTtl: number;
  /** seconds an execution unknown to the worker must be old before it is handed back */
  minAge: number;
  /** execution ids of dequeue calls still awaiting their reply */
  pending: readonly string[];
  running: readonly { queue: string; id: string; execId: string }[];
}

export interface HeartbeatReply {
  /** 'job:execution' members recovered elsewhere: not to be finished here */
  lost: string[];
  /** members handed back to their queue */
  handed: string[];
  /** the worker's key is gone: it must register again */
  gone: boolean;
}

/** heartbeat.lua */
export async function heartbeat(redis: Redis, a: HeartbeatArgs): Promise<HeartbeatReply> {
  const running: Arg[] = [];
  for (const r of a.running) running.push(r.queue, r.id, r.execId);
  const [lost, handed, gone] = (await runScript(redis, 'heartbeat', [
    a.worker, a.workerTtl, a.hbTtl, a.execTtl, a.minAge, a.pending.length, ...a.pending, ...running,
  ])) as [string[], string[], number];
  return { lost, handed, gone: Number(gone) === 1 };
}

export interface RecoverArgs {
  queue: string;
  /** the AbandonedJobError text, base64 zlib */
  excString: string;
  failureTtl: number;
  limit: number;
  /** when given, nothing is recovered while every worker was just cut off (recovery_held) */
  hbTtl?: number;
  queueRetry?: string;
}

/** recover.lua: each recovered job and what became of it. */
export async function recover(redis: Redis, a: RecoverArgs): Promise<{ id: string; outcome: RecoveryOutcome }[]> {
  const out = (await runScript(redis, 'recover', [a.queue, a.excString, a.failureTtl, a.limit, a.hbTtl ?? '', a.queueRetry ?? ''])) as string[];
  const jobs: { id: string; outcome: RecoveryOutcome }[] = [];
  for (let i = 0; i + 1 < out.length; i += 2) jobs.push({ id: out[i]!, outcome: out[i + 1] as RecoveryOutcome });
  return jobs;
}

export interface CleanReply {
  removed: number;
  canceledCursor: string;
  deferredCursor: string;
  /** a batch was full: call again soon */
  more: boolean;
}

/** clean-registries.lua: one bounded pass over one queue's registries. */
export async function cleanRegistries(
  redis: Redis,
  a: { queue: string; batch: number; canceledCursor: string; deferredCursor: string },
): Promise<CleanReply> {
  const [n, c, d, more] = (await runScript(redis, 'clean-registries', [a.queue, a.batch, a.canceledCursor, a.deferredCursor])) as [number, string, string, number];
  return { removed: Number(n), canceledCursor: String(c), deferredCursor: String(d), more: Number(more) === 1 };
}

/** cancel.lua: 'canceled', or an error reply (NoSuchJobError / InvalidJobOperation). */
export async function cancel(redis: Redis, a: { id: string; enqueueDependents: boolean }, token: TokenArgs): Promise<string> {
  return String(await runScript(redis, 'cancel', [a.id, a.enqueueDependents ? '1' : '0', ...token]));
}

/** requeue.lua: 'queued', or an error reply (NoSuchJobError / InvalidJobOperation). */
export async function requeue(redis: Redis, a: { id: string; atFront: boolean }, token: TokenArgs): Promise<string> {
  return String(await runScript(redis, 'requeue', [a.id, a.atFront ? '1' : '0', ...token]));
}

/** delete.lua: how many jobs were deleted. */
export async function deleteJob(redis: Redis, a: { id: string; deleteDependents: boolean }): Promise<number> {
  return Number(await runScript(redis, 'delete', [a.id, a.deleteDependents ? '1' : '0']));
}

/** empty.lua: how many ids were removed from the queue. */
export async function empty(redis: Redis, queue: string): Promise<number> {
  return Number(await runScript(redis, 'empty', [queue]));
}

/** birth.lua: registers a worker; `fields` go into its hash (after birth, last_heartbeat, state). */
export async function birth(
  redis: Redis,
  a: { worker: string; keyTtl: number; queues: readonly string[]; fields: readonly [string, string | number][] },
): Promise<void> {
  await runScript(redis, 'birth', [a.worker, a.keyTtl, a.queues.length, ...a.queues, ...a.fields.flat()]);
}

/** death.lua: unregisters a worker (writing its last totals, when given); how many executions it handed to recovery. */
export async function death(redis: Redis, a: { worker: string; queues: readonly string[]; counts?: JobTotals }): Promise<number> {
  const args: Arg[] = [a.worker, a.queues.length, ...a.queues];
  if (a.counts) pushTotals(args, a.counts);
  return Number(await runScript(redis, 'death', args));
}

/** schedule.lua: moves due jobs of one queue while `owner` holds its lock. moved is -1 when it does not. */
export async function schedule(
  redis: Redis,
  a: { queue: string; owner: string; max: number },
): Promise<{ moved: number; nextDue: string; now: string }> {
  const [moved, next, now] = (await runScript(redis, 'schedule', [a.queue, a.owner, a.max])) as [number, string, string];
  return { moved: Number(moved), nextDue: String(next), now: String(now) };
}

/** scheduler-lock.lua: takes or extends (or, with release, gives up) the queues' locks; the queues held now. */
export async function schedulerLock(
  redis: Redis,
  a: { owner: string; ttl: number; release: boolean; queues: readonly string[] },
): Promise<string[]> {
  return (await runScript(redis, 'scheduler-lock', [a.owner, a.ttl, a.release ? '1' : '0', ...a.queues])) as string[];
}

export type CronClaimArgs =
  | { mode: 'advance'; key: string; expectedNext: string; newNext: string; fire: string; leaseMs: number; owner: string; stateTtl: number; spec: string }
  | { mode: 'recover'; key: string; fire: string; leaseMs: number; owner: string };

export interface CronClaimReply {
  outcome: 'claimed' | 'advanced' | 'lost' | 'early';
  /** the stored next fire time, '' when there is none */
  next: string;
  /** Redis' clock, ms */
  nowMs: number;
}

/** cron-claim.lua */
export async function cronClaim(redis: Redis, a: CronClaimArgs): Promise<CronClaimReply> {
  const args: Arg[] =
    a.mode === 'advance'
      ? ['advance', a.key, a.expectedNext, a.newNext, a.fire, a.leaseMs, a.owner, a.stateTtl, a.spec]
      : ['recover', a.key, a.fire, a.leaseMs, a.owner];
  const [outcome, next, now] = (await runScript(redis, 'cron-claim', args)) as [string, string, string];
  return { outcome: outcome as CronClaimReply['outcome'], next: String(next), nowMs: Number(now) };
}

/** meta-cas.lua: 'written', 'gone' (the job's hash), or the meta text found instead of `expected`. */
export async function metaCas(
  redis: Redis,
  a: { id: string; expected: string; meta: string },
): Promise<'written' | 'gone' | { current: string }> {
  const reply = await runScript(redis, 'meta-cas', [a.id, a.expected, a.meta]);
  if (reply === 1) return 'written';
  if (reply === 0) return 'gone';
  return { current: String((reply as unknown[])[0]) };
}
