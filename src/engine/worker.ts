import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { describeError, JobTimeoutError, MalformedJobError, UnrecoverableError } from './errors.js';
import { Job } from './job.js';
import { checkQueueName, keys } from './keys.js';
import { consoleLogger, type Logger } from './logger.js';
import { runScript, runScriptBuffer } from './scripts.js';
import { Scheduler } from './scheduler.js';
import { encodeExcString, encodeReturnValue } from './serializer.js';
import { ReplyWatch } from './reply-watch.js';
import { runInJobContext, type JobContext, type TaskRegistry } from './tasks.js';
import { utcformat } from './time.js';
import { DEFAULT_JOB_TIMEOUT } from './queue.js';
import { parseControlMessage, showCommand } from './control-message.js';
import { jobLogName } from './description.js';
import { checkSeconds } from './limits.js';

export const ENGINE_VERSION = '0.1.0';

export type DequeueStrategy = 'default' | 'round_robin' | 'random';

export interface WorkerOptions {
  /** Commands go here; a second connection is made from it for pub/sub. */
  connection: Redis;
  tasks: TaskRegistry;
  name?: string;
  /** Jobs run at once in this process (RQ: 1). */
  concurrency?: number;
  /** Exit when the queues are empty. */
  burst?: boolean;
  maxJobs?: number;
  /** Seconds idle before the worker exits. */
  maxIdleTime?: number;
  dequeueStrategy?: DequeueStrategy;
  /** Default result_ttl for jobs without one (RQ: 500 s). */
  resultTtl?: number;
  /** Default failure_ttl (RQ: 1 year). */
  failureTtl?: number;
  /** Worker key TTL is workerTtl + 60 while idle (RQ: 420). */
  workerTtl?: number;
  /** Seconds between heartbeats (RQ: 30; ours is shorter so that death is noticed sooner). */
  jobMonitoringInterval?: number;
  /**
   * Seconds without a heartbeat after which a running job counts as
   * abandoned and is retried or failed by any worker of its queue.
   */
  deadWorkerTimeout?: number;
  /** Seconds between passes that look for abandoned jobs. */
  recoveryInterval?: number;
  /** Ms between checks for jobs pushed by producers that do not wake us (Python RQ). */
  idlePollInterval?: number;
  withScheduler?: boolean;
  logger?: Logger;
  /** Don't log job descriptions (RQ's --disable-job-desc-logging). */
  disableJobDescLogging?: boolean;
  /** Log each job's (redacted) description when it starts; by default only its task name and id. */
  logJobDescription?: boolean;
}

/**
 * Abort state of one execution. Most tasks never look at their signal, so
 * an AbortController is made only when one does; the guard hears of an
 * abort through `listener` instead of an event listener per job.
 */
class LazyAbort {
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

interface Running {
  job: Job;
  queue: string;
  execId: string;
  member: string;
  aborter: LazyAbort;
  startedAt: number;
  /** Set when the job must end as 'stopped' (stop-job) rather than failed. */
  stopRequested?: boolean;
  /** Recovered by someone else (we stalled), or handed over by a cold shutdown: don't report. */
  detached?: boolean;
  done?: Promise<void>;
}

// script-error: recording the end failed inside the script; the job was failed with the reason instead.
type Outcome = 'finished' | 'retried' | 'scheduled' | 'failed' | 'stopped' | 'missing' | 'stale' | 'script-error';

export interface WorkerEvents {
  started: [];
  'job-started': [job: Job];
  'job-finished': [job: Job, value: unknown];
  'job-failed': [job: Job, error: string, outcome: Outcome];
  'job-recovered': [jobId: string, outcome: string];
  /** A job this worker had been given by a dequeue whose reply was lost went back to its queue. */
  'job-handed-back': [jobId: string];
  idle: [];
  stopped: [];
  error: [err: Error];
}

class Abort extends Error {}

// Ends per complete.lua call: 8 cut Redis CPU per job at concurrency 50 as much as 16 did
// while leaving calls small enough to overlap with the jobs they hand out.
const END_BATCH = 8;

/** An execution's end, waiting to be recorded with others of the same tick. */
interface PendingEnd {
  script: 'finish' | 'fail';
  r: Running;
  middle: (string | number)[];
  endedAt: number;
  recorded: (outcome: Outcome) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

// Execution ids: 32 hex digits as RQ's uuid4().hex, from a random
// per-process prefix and a counter; unique without a syscall per job.
const EXEC_PREFIX = randomBytes(10).toString('hex');
let execCounter = 0;
function nextExecutionId(): string {
  return EXEC_PREFIX + (execCounter++).toString(16).padStart(12, '0');
}

/**
 * Runs jobs from its queues until stopped. Every state change is one script
 * call: a busy worker costs about one round trip per job, since the script
 * that records a job's end also hands out the next one.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly name: string;
  readonly queues: string[];
  readonly connection: Redis;
  private subscriber: Redis | undefined;
  private readonly tasks: TaskRegistry;
  private readonly log: Logger;
  private readonly o: Required<
    Omit<WorkerOptions, 'connection' | 'tasks' | 'name' | 'logger' | 'maxJobs' | 'maxIdleTime'>
  > & { maxJobs: number; maxIdleTime: number };
  private order: string[];
  private readonly running = new Map<string, Running>();
  private reserved = 0;
  private maybeWork = true;
  private wakeGen = 0;
  private jobsStarted = 0;
  private stopping: 'no' | 'warm' | 'cold' = 'no';
  private suspended = false;
  private lastBusy = Date.now();
  private nudge: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];
  private heartbeatBusy = false;
  private recoveryBusy = false;
  /** Execution ids sent with dequeue calls still awaiting their reply. */
  private readonly pendingExecIds = new Set<string>();
  private ends: PendingEnd[] = [];
  private scheduler: Scheduler | undefined;
  private loop: Promise<void> | undefined;
  successfulJobs = 0;
  failedJobs = 0;

  constructor(queues: string[], opts: WorkerOptions) {
    super();
    if (queues.length === 0) throw new TypeError('A worker needs at least one queue');
    for (const q of queues) checkQueueName(q);
    this.queues = [...queues];
    this.order = [...queues];
    this.connection = opts.connection;
    this.tasks = opts.tasks;
    this.name = opts.name ?? randomUUID().replace(/-/g, '');
    this.log = opts.logger ?? consoleLogger();
    this.o = {
      concurrency: opts.concurrency ?? 1,
      burst: opts.burst ?? false,
      maxJobs: opts.maxJobs ?? Infinity,
      maxIdleTime: opts.maxIdleTime ?? Infinity,
      dequeueStrategy: opts.dequeueStrategy ?? 'default',
      resultTtl: opts.resultTtl ?? 500,
      failureTtl: opts.failureTtl ?? 31536000,
      workerTtl: opts.workerTtl ?? 420,
      jobMonitoringInterval: opts.jobMonitoringInterval ?? 5,
      deadWorkerTimeout: opts.deadWorkerTimeout ?? 20,
      recoveryInterval: opts.recoveryInterval ?? 5,
      idlePollInterval: opts.idlePollInterval ?? 1000,
      withScheduler: opts.withScheduler ?? false,
      disableJobDescLogging: opts.disableJobDescLogging ?? false,
      logJobDescription: opts.logJobDescription ?? false,
    };
    if (!Number.isInteger(this.o.concurrency) || this.o.concurrency < 1) throw new TypeError('concurrency must be an integer >= 1');
    for (const k of ['resultTtl', 'failureTtl'] as const) checkSeconds(k, this.o[k], -1);
    if (!['default', 'round_robin', 'random'].includes(this.o.dequeueStrategy)) {
      throw new TypeError(`Unknown dequeue strategy '${this.o.dequeueStrategy}': use default, round_robin or random`);
    }
    if (this.o.deadWorkerTimeout <= this.o.jobMonitoringInterval * 2) {
      throw new TypeError('deadWorkerTimeout must be more than twice jobMonitoringInterval');
    }
  }

  /** Registers the worker, then processes jobs until stopped (or the queues run dry in burst mode). */
  async work(): Promise<void> {
    await this.bootstrap();
    this.loop = this.mainLoop();
    try {
      await this.loop;
    } finally {
      await this.teardown();
    }
  }

  /**
   * Warm stop: take no new job, let running ones finish. Cold stop (or a
   * second call): abort running jobs and hand them to recovery at once.
   */
  stop(opts: { cold?: boolean } = {}): void {
    const cold = opts.cold || this.stopping !== 'no';
    if (cold && this.stopping !== 'cold') {
      this.stopping = 'cold';
      for (const r of this.running.values()) {
        r.detached = true;
        r.aborter.abort(new Abort('cold shutdown'));
      }
    } else if (this.stopping === 'no') {
      this.stopping = 'warm';
      this.connection.hset(keys.worker(this.name), 'shutdown_requested_date', utcformat()).catch(() => {});
    }
    this.wake();
  }

  /** Ids of the jobs running now. */
  runningJobIds(): string[] {
    return [...this.running.values()].map((r) => r.job.id);
  }

  private get hbTtl(): number {
    return this.o.deadWorkerTimeout;
  }
  private get execTtl(): number {
    return this.o.deadWorkerTimeout + 60;
  }

  private async bootstrap(): Promise<void> {
    await this.connection.client('SETNAME', this.name).catch(() => {});
    let ip = '';
    try {
      const info = String(await this.connection.client('INFO'));
      ip = /addr=(\S+)/.exec(info)?.[1] ?? '';
    } catch {
      /* CLIENT INFO needs Redis 6.2 */
    }
    await runScript(this.connection, 'birth', [
      this.name,
      this.o.workerTtl + 60,
      this.queues.length,
      ...this.queues,
      'queues', this.queues.join(','),
      'pid', process.pid,
      'hostname', hostname(),
      'ip_address', ip,
      'version', ENGINE_VERSION,
      'python_version', `node ${process.version}`,
      'successful_job_count', 0,
      'failed_job_count', 0,
      'total_working_time', 0,
      // Not an RQ field: lets birth.lua tell a resend of this call from a live namesake.
      'birth_token', randomBytes(8).toString('hex'),
    ]);
    this.subscriber = this.connection.duplicate();
    this.subscriber.on('error', () => {});
    const channels = [keys.pubsub(this.name), ...this.queues.map(keys.wakeChannel)];
    if (this.o.withScheduler) {
      this.scheduler = new Scheduler(this.connection, this.queues, { name: this.name, logger: this.log });
      channels.push(...this.queues.map(keys.scheduledChannel));
    }
    this.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    await this.subscriber.subscribe(...channels);
    this.log.info(`Worker ${this.name} started with PID ${process.pid}, version ${ENGINE_VERSION}`);
    this.log.info(`*** Listening on ${this.queues.join(', ')}...`);
    if (this.scheduler) {
      if (this.o.burst) await this.scheduler.runOnce();
      else this.scheduler.start();
    }
    // A first heartbeat before the first recovery pass: it tells recovery
    // that a worker is alive (and, after an outage, starts its hold).
    await this.heartbeat();
    await this.recoverAbandoned();
    const tickMs = this.o.jobMonitoringInterval * 1000;
    // Twice the heartbeat interval, at least 2 s: a live Redis answers a PING
    // well within that even behind a burst of scripts.
    const stallMs = Math.max(2 * tickMs, 2000);
    const watches = [
      new ReplyWatch(this.connection, stallMs, (ms) => this.log.warning(`Redis has not answered for ${(ms / 1000).toFixed(1)} s: reconnecting`)),
      new ReplyWatch(this.subscriber, stallMs, (ms) => this.log.warning(`Redis pub/sub has not answered for ${(ms / 1000).toFixed(1)} s: reconnecting`)),
    ];
    this.timers.push(
      setInterval(() => {
        void this.heartbeat();
        for (const w of watches) w.tick(tickMs);
      }, tickMs),
    );
    this.timers.push(
      setInterval(() => {
        // One pass at a time, and none queued up while the connection is down.
        if (this.recoveryBusy || this.connection.status !== 'ready') return;
        this.recoveryBusy = true;
        void this.recoverAbandoned().finally(() => (this.recoveryBusy = false));
      }, this.o.recoveryInterval * 1000),
    );
    this.emit('started');
  }

  private async teardown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.scheduler?.stop();
    try {
      const handed = Number(await runScript(this.connection, 'death', [this.name, this.queues.length, ...this.queues]));
      if (handed > 0) await this.recoverAbandoned();
    } catch (err) {
      this.log.warning(`could not register death: ${(err as Error).message}`);
    }
    if (this.subscriber) {
      this.subscriber.disconnect();
      this.subscriber = undefined;
    }
    this.log.info(`Worker ${this.name}: stopped (${this.successfulJobs} finished, ${this.failedJobs} failed)`);
    this.emit('stopped');
  }

  private onMessage(channel: string, message: string): void {
    if (channel.startsWith('rq:wake:')) {
      this.wakeGen++;
      this.maybeWork = true;
      this.wake();
      return;
    }
    if (channel.startsWith('rq:scheduled-wake:')) {
      this.scheduler?.notify(channel.slice('rq:scheduled-wake:'.length), Number(message));
      return;
    }
    const cmd = parseControlMessage(message);
    if ('malformed' in cmd) {
      this.log.warning(`ignoring malformed command on ${channel}: ${cmd.malformed}`);
      return;
    }
    switch (cmd.command) {
      case 'shutdown':
        this.log.info('Received shutdown command, shutting down after the current job(s)');
        this.stop();
        break;
      case 'kill-horse':
        this.log.info('Received kill-horse command: aborting the running job(s)');
        for (const r of this.running.values()) r.aborter.abort(new Abort('Work-horse terminated unexpectedly (kill-horse command)'));
        break;
      case 'stop-job': {
        const target = [...this.running.values()].filter((r) => r.job.id === cmd.job_id);
        if (target.length === 0) this.log.info(`stop-job: job ${String(cmd.job_id)} is not running here`);
        for (const r of target) {
          r.stopRequested = true;
          r.aborter.abort(new Abort('Job stopped by user, work-horse terminated.'));
        }
        break;
      }
      default:
        this.log.warning(`ignoring unknown command ${showCommand(cmd.command)} on ${channel}`);
    }
  }

  private wake(): void {
    const n = this.nudge;
    this.nudge = undefined;
    n?.();
  }

  private waitForNudge(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.nudge = undefined;
        resolve();
      }, ms);
      this.nudge = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private available(): number {
    if (this.stopping !== 'no' || this.suspended) return 0;
    const left = this.o.maxJobs - this.jobsStarted - this.reserved;
    return Math.max(0, Math.min(this.o.concurrency - this.running.size - this.reserved, left));
  }

  private async mainLoop(): Promise<void> {
    while (true) {
      if (this.stopping === 'cold') break;
      if (this.stopping === 'warm' && this.running.size === 0 && this.reserved === 0) break;
      if (this.jobsStarted >= this.o.maxJobs && this.running.size === 0 && this.reserved === 0) break;
      const idle = this.running.size === 0 && this.reserved === 0;
      if (idle && Date.now() - this.lastBusy >= this.o.maxIdleTime * 1000) {
        this.log.info(`Worker ${this.name}: idle for ${this.o.maxIdleTime} s, exiting`);
        break;
      }
      if (this.o.burst && idle && !this.maybeWork) {
        this.log.info(`Worker ${this.name}: done, quitting`);
        break;
      }
      const k = this.available();
      if (k > 0 && this.maybeWork) {
        try {
          await this.fetch(k);
        } catch (err) {
          if (this.stopping !== 'no') break;
          this.log.warning(`dequeue failed, retrying: ${(err as Error).message}`);
          await this.waitForNudge(1000);
        }
        continue;
      }
      if (this.suspended) {
        if (this.o.burst && idle) {
          this.log.info('Suspended, burst worker quitting');
          break;
        }
        await this.waitForNudge(1000);
        this.suspended = false;
        this.maybeWork = true;
        continue;
      }
      if (idle) this.emit('idle');
      const wait = Math.min(this.o.idlePollInterval, Number.isFinite(this.o.maxIdleTime) ? this.o.maxIdleTime * 1000 : Infinity);
      await this.waitForNudge(wait);
      if (this.running.size + this.reserved < this.o.concurrency) this.maybeWork = true;
    }
    // A cold stop leaves jobs to recovery; a warm one waits for them above.
    await Promise.all([...this.running.values()].map((r) => (this.stopping === 'cold' ? undefined : r.done)));
  }

  /** The queue order for the next dequeue, per strategy. */
  private queueOrder(): string[] {
    if (this.o.dequeueStrategy === 'random') {
      const a = [...this.order];
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    }
    return this.order;
  }

  private afterDequeueFrom(queue: string): void {
    if (this.o.dequeueStrategy === 'round_robin') {
      this.order = [...this.order.filter((q) => q !== queue), queue];
    }
  }

  /**
   * The ARGV tail that asks a script for up to k next jobs. Its execution ids
   * stay pending until the call settles, so that the heartbeat never hands
   * back a job whose reply is still on its way.
   */
  private dequeueTail(k: number): { tail: (string | number)[]; ids: string[] } {
    const order = this.queueOrder();
    const ids: string[] = [];
    for (let i = 0; i < k; i++) ids.push(nextExecutionId());
    for (const id of ids) this.pendingExecIds.add(id);
    return { tail: [k, this.hbTtl, this.execTtl, order.length, ...order, ...ids], ids };
  }

  private async fetch(k: number): Promise<void> {
    this.reserved += k;
    const gen = this.wakeGen;
    let reply: unknown;
    const { tail, ids } = this.dequeueTail(k);
    try {
      reply = await runScriptBuffer(this.connection, 'dequeue', [this.name, ...tail]);
      this.takeJobs(reply as Buffer[] | unknown[], k, gen);
    } finally {
      this.reserved -= k;
      for (const id of ids) this.pendingExecIds.delete(id);
    }
  }

  /** Starts the jobs a dequeue tail returned. */
  private takeJobs(reply: unknown[], asked: number, gen: number): void {
    if (reply.length === 1 && String(reply[0]) === 'suspended') {
      if (!this.suspended) this.log.info('Worker suspended (rq:suspended is set)');
      this.suspended = true;
      this.wake();
      return;
    }
    let got = 0;
    for (let i = 0; i + 3 < reply.length; i += 4) {
      const id = String(reply[i]);
      const queue = String(reply[i + 1]);
      const execId = String(reply[i + 2]);
      const job = Job.fromPacked(this.connection, id, reply[i + 3] as Buffer);
      got++;
      this.afterDequeueFrom(queue);
      this.start(job, queue, execId);
    }
    if (got < asked && gen === this.wakeGen) this.maybeWork = false;
    if (got > 0) this.lastBusy = Date.now();
  }

  private start(job: Job, queue: string, execId: string): void {
    const r: Running = {
      job,
      queue,
      execId,
      member: `${job.id}:${execId}`,
      aborter: new LazyAbort(),
      startedAt: Date.now() / 1000,
    };
    this.running.set(r.member, r);
    this.jobsStarted++;
    r.done = this.execute(r).catch((err: unknown) => {
      // Only a lost connection (or a script error outside the per-job records,
      // which the scripts write nothing before) gets here: the execution stays
      // in wip and is recovered as abandoned, so nothing is lost.
      this.log.error(`${queue}: could not record the end of ${job.id}: ${(err as Error).message}`);
      // An 'error' event nobody listens to would throw and end the process.
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      this.running.delete(r.member);
      this.wake();
    });
  }

  private async execute(r: Running): Promise<void> {
    const { job, queue } = r;
    const desc = this.o.disableJobDescLogging ? job.id : jobLogName(job, this.o.logJobDescription);
    this.log.info(`${queue}: ${desc}`);
    this.emit('job-started', job);
    let value: unknown;
    let error: unknown;
    let failed = false;
    try {
      value = await this.invoke(r);
      const cb = job.successCallbackName;
      if (cb) await this.runCallback(r, cb, Number(job.fields.success_callback_timeout) || 60, [job, this.connection, value]);
    } catch (err) {
      failed = true;
      error = err;
    }
    const endedAt = Date.now() / 1000;
    if (r.detached) {
      this.running.delete(r.member);
      this.wake();
      return;
    }
    if (!failed) {
      const hasDeps = job.fields.dependency_ids ? '1' : '';
      await this.report('finish', r, [encodeReturnValue(value), job.resultTtl ?? this.o.resultTtl, hasDeps], endedAt, (outcome) => {
        if (outcome === 'stale') this.log.warning(`${queue}: ${job.id} had been recovered as abandoned; its result was dropped`);
        else if (outcome === 'script-error') {
          this.log.error(`${queue}: ${job.id} failed: its end could not be recorded (reason in its result)`);
          return void this.emit('job-failed', job, 'ScriptError: its end could not be recorded', 'failed');
        }
        else {
          this.successfulJobs++;
          this.log.info(`${queue}: Job OK (${job.id})`);
        }
        this.emit('job-finished', job, value);
      });
      return;
    }
    const mode = r.stopRequested
      ? 'stopped'
      : error instanceof UnrecoverableError || error instanceof MalformedJobError
        ? 'unrecoverable'
        : 'failed';
    const text = error instanceof Abort ? error.message : describeError(error);
    const cb = mode === 'stopped' ? job.stoppedCallbackName : job.failureCallbackName;
    if (cb) {
      const timeout = Number(job.fields[mode === 'stopped' ? 'stopped_callback_timeout' : 'failure_callback_timeout']) || 60;
      const cbArgs = mode === 'stopped' ? [job, this.connection] : [job, this.connection, error];
      await this.runCallback(r, cb, timeout, cbArgs).catch((e: unknown) =>
        this.log.error(`${queue}: ${mode} callback of ${job.id} failed: ${describeError(e)}`),
      );
    }
    await this.report('fail', r, [mode, encodeExcString(text), this.o.failureTtl], endedAt, (outcome) => {
      this.failedJobs++;
      const firstLine = text.split('\n')[0];
      if (outcome === 'retried' || outcome === 'scheduled') {
        this.log.info(`${queue}: ${job.id} failed (${firstLine}); retry ${outcome === 'scheduled' ? 'scheduled' : 'queued'}`);
      } else {
        this.log.error(`${queue}: ${job.id} ${outcome === 'stopped' ? 'stopped' : 'failed'}: ${firstLine}`);
      }
      this.emit('job-failed', job, text, outcome);
    });
  }

  /**
   * Records the end of an execution and, in the same script call, takes
   * the next jobs for the slots it frees. Ends that come in the same tick
   * (many jobs at once) go in one call (complete.lua), one alone in
   * finish.lua / fail.lua. Freed slots stay reserved until the next jobs
   * have started, so the main loop never fetches for them too. `recorded`
   * runs before those jobs start, so logs and events keep their order.
   */
  private report(
    script: 'finish' | 'fail',
    r: Running,
    middle: (string | number)[],
    endedAt: number,
    recorded: (outcome: Outcome) => void,
  ): Promise<void> {
    this.running.delete(r.member);
    this.reserved += 1;
    return new Promise((resolve, reject) => {
      this.ends.push({ script, r, middle, endedAt, recorded, resolve, reject });
      if (this.ends.length === 1) queueMicrotask(() => this.flushEnds());
    });
  }

  private flushEnds(): void {
    // Calls of a few ends each, not one for all: while Redis runs one, the
    // jobs another call handed out run here, so neither side waits for the other.
    while (this.ends.length > 0) this.flushSome(this.ends.splice(0, END_BATCH));
  }

  private flushSome(items: PendingEnd[]): void {
    this.reserved -= items.length;
    const k = this.available();
    this.reserved += k;
    const gen = this.wakeGen;
    const { tail, ids } = this.dequeueTail(k);
    const times = (e: PendingEnd) => [
      e.r.startedAt.toFixed(6),
      e.endedAt.toFixed(6),
      (e.endedAt - e.r.startedAt).toFixed(6),
    ];
    let call: Promise<[Buffer[], unknown[]]>;
    if (items.length === 1) {
      const [e] = items as [PendingEnd];
      const args = [e.r.job.id, e.r.execId, e.r.queue, this.name, ...e.middle, ...times(e), ...tail];
      call = runScriptBuffer(this.connection, e.script, args).then((reply) => {
        const [outcome, next] = reply as [Buffer, unknown[]];
        return [[outcome], next];
      });
    } else {
      // complete.lua's records: 10 fields, finish and fail alike
      const args: (string | number)[] = [this.name, items.length];
      for (const e of items) args.push(e.script, e.r.job.id, e.r.execId, e.r.queue, ...e.middle, ...times(e));
      call = runScriptBuffer(this.connection, 'complete', [...args, ...tail]) as Promise<[Buffer[], unknown[]]>;
    }
    call.then(
      ([outcomes, next]) => {
        this.reserved -= k;
        items.forEach((e, i) => {
          try {
            e.recorded(String(outcomes[i]) as Outcome);
          } catch (err) {
            // a throwing event listener must not keep the next jobs from starting
            this.log.error(`job event listener failed: ${describeError(err)}`);
          }
        });
        if (k > 0) this.takeJobs(next, k, gen);
        for (const id of ids) this.pendingExecIds.delete(id);
        for (const e of items) e.resolve();
        this.wake();
      },
      (err: unknown) => {
        this.reserved -= k;
        for (const id of ids) this.pendingExecIds.delete(id);
        for (const e of items) e.reject(err);
        this.wake();
      },
    );
  }

  /** Calls the task with the job's timeout and abort signal. */
  private invoke(r: Running): Promise<unknown> {
    const { job } = r;
    const call = job.call();
    const fn = this.tasks.get(call.func);
    const timeout = job.timeout ?? DEFAULT_JOB_TIMEOUT;
    const ctx = this.context(r);
    const argv = Object.keys(call.kwargs).length > 0 ? [...call.args, call.kwargs] : call.args;
    return this.guard(r, timeout, () => runInJobContext(ctx, () => fn.apply(ctx, argv)));
  }

  private runCallback(r: Running, name: string, timeout: number, args: unknown[]): Promise<unknown> {
    const fn = this.tasks.get(name);
    const ctx = this.context(r);
    return this.guard(r, timeout, () => runInJobContext(ctx, () => fn.apply(ctx, args)));
  }

  private context(r: Running): JobContext {
    const { aborter } = r;
    return {
      job: r.job,
      workerName: this.name,
      get signal() {
        return aborter.signal;
      },
    };
  }

  /**
   * Settles with the function's result, or rejects when the timeout passes
   * or the job is aborted, even if the function never settles.
   */
  private guard(r: Running, timeoutSec: number, fn: () => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const { aborter } = r;
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

  private async heartbeat(): Promise<void> {
    if (this.heartbeatBusy) return;
    this.heartbeatBusy = true;
    try {
      const entries: (string | number)[] = [];
      for (const r of this.running.values()) entries.push(r.queue, r.job.id, r.execId);
      const ttl = this.running.size > 0 ? this.hbTtl + 60 : this.o.workerTtl + 60;
      const pending = [...this.pendingExecIds];
      const [lost, handed] = (await runScript(this.connection, 'heartbeat', [
        this.name,
        ttl,
        this.hbTtl,
        this.execTtl,
        '',
        this.o.jobMonitoringInterval,
        pending.length,
        ...pending,
        ...entries,
      ])) as [string[], string[]];
      for (const member of handed) {
        const jobId = member.slice(0, member.lastIndexOf(':'));
        this.log.warning(`job ${jobId}: handed back to its queue (the reply that gave it to this worker was lost)`);
        this.emit('job-handed-back', jobId);
      }
      if (handed.length > 0) {
        this.maybeWork = true;
        this.wake();
      }
      for (const member of lost) {
        const r = this.running.get(member);
        if (r) {
          this.log.warning(`${r.queue}: ${r.job.id} was recovered elsewhere while it ran here (missed heartbeats); abandoning it`);
          r.detached = true;
          r.aborter.abort(new Abort('recovered by another worker'));
        }
      }
    } catch (err) {
      this.log.warning(`heartbeat failed: ${(err as Error).message}`);
    } finally {
      this.heartbeatBusy = false;
    }
  }

  /** Retries or fails jobs whose worker stopped heart-beating. */
  async recoverAbandoned(): Promise<number> {
    let n = 0;
    const exc = encodeExcString(`Moved to FailedJobRegistry, due to AbandonedJobError, at ${new Date().toISOString()}`);
    for (const q of this.queues) {
      try {
        const out = (await runScript(this.connection, 'recover', [q, exc, this.o.failureTtl, 100, this.hbTtl])) as string[];
        for (let i = 0; i + 1 < out.length; i += 2) {
          n++;
          this.log.warning(`${q}: job ${out[i]} was abandoned by its worker: ${out[i + 1]}`);
          this.emit('job-recovered', out[i]!, out[i + 1]!);
        }
      } catch (err) {
        this.log.warning(`recovery pass on ${q} failed: ${(err as Error).message}`);
      }
    }
    if (n > 0) {
      this.maybeWork = true;
      this.wake();
    }
    return n;
  }
}
