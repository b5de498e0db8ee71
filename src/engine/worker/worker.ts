import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { describeError, formatTraceback, isUnrecoverable, MalformedJobError } from '../errors.js';
import { Job } from '../job.js';
import { checkQueueName, keys } from '../keys.js';
import { showCommand } from '../control-message.js';
import { escapeControl, jobLogName } from '../description.js';
import { consoleLogger, type Logger } from '../logger.js';
import { birth, death, dequeue, unpark, type EndRecord, type FailRecord, type FinishRecord, type Next, type NextJobs, type Taken } from '../transitions.js';
import { Scheduler } from '../scheduler.js';
import { encodeExcString, encodeReturnValue } from '../serializer.js';
import { runInJobContext, type JobContext, type TaskRegistry } from '../tasks.js';
import { utcformat } from '../time.js';
import { DEFAULT_CALLBACK_TIMEOUT, DEFAULT_JOB_TIMEOUT, ENGINE_VERSION } from '../defaults.js';
import { Abort, guard, LazyAbort } from './abort.js';
import { parseControlMessage } from './control.js';
import { COUNTS_IDLE_MS, JobCounts } from './counts.js';
import { DequeueOrder } from './dequeue-order.js';
import { EndHooks, type EndHook } from './end-hooks.js';
import { recordEnds, type PendingEnd } from './ends.js';
import type { Outcome, WorkerEvents } from './events.js';
import { Lanes, type Lane } from './lanes.js';
import { Liveness } from './liveness.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.js';
import { Prefetch, type Parked, type PrefetchPlan } from './prefetch.js';
import { PushWatch } from './push-watch.js';
import { nextExecutionId, type Running } from './running.js';
import { Slots } from './slots.js';

/**
 * A task's JobContext. A class, not an object literal with a `signal`
 * getter: V8 cannot share the hidden class of literals whose getter is a
 * new closure each time. It holds the abort state, not the Running, so
 * that what keeps a context alive keeps little else (bench/README, "The
 * worker's GC").
 */
class RunContext implements JobContext {
  // # keeps it out of the context's own enumerable properties, as before
  readonly #aborter: LazyAbort;

  constructor(
    readonly job: Job,
    readonly queueName: string,
    readonly workerName: string,
    aborter: LazyAbort,
  ) {
    this.#aborter = aborter;
  }

  get signal(): AbortSignal {
    return this.#aborter.signal;
  }
}

/** Idle ms before a worker watches its queues for foreign pushes (push-watch.ts). */
const ARM_AFTER_MS = 2;

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
  /** Whether the logger writes info lines: a job's start and end lines are built only then. */
  private readonly logJobs: boolean;
  private readonly o: ResolvedWorkerOptions;
  private readonly order: DequeueOrder;
  private readonly running = new Map<string, Running>();
  private readonly slots: Slots;
  /** Jobs held parked (--prefetch N), undefined without prefetch. */
  private readonly prefetch: Prefetch | undefined;
  private maybeWork = true;
  private wakeGen = 0;
  private stopping: 'no' | 'warm' | 'cold' = 'no';
  private suspended = false;
  /** The suspension was logged: RQ says so once, not on every check. */
  private suspensionLogged = false;
  /** Jobs ended (finished, or failed for good), RQ's completed_jobs. */
  private completedJobs = 0;
  private lastBusy = Date.now();
  private nudge: (() => void) | undefined;
  /** Counts wake() calls, so that the main loop notices one made while it was not waiting. */
  private nudges = 0;
  private pushWatch: PushWatch | undefined;
  /**
   * The last wake-up came from the push watch (a producer that publishes
   * nothing, Python RQ's RPUSH), not from our producers' publish: arm again
   * at once, without ARM_AFTER_MS.
   */
  private foreignPushes = false;
  /** Execution ids sent with dequeue calls still awaiting their reply. */
  private readonly pendingExecIds = new Set<string>();
  private readonly lanes: Lanes;
  private readonly endHooks = new EndHooks();
  private readonly counts = new JobCounts();
  private countsTimer: NodeJS.Timeout | undefined;
  private readonly liveness: Liveness;
  private scheduler: Scheduler | undefined;
  private loop: Promise<void> | undefined;
  successfulJobs = 0;
  failedJobs = 0;

  constructor(queues: string[], opts: WorkerOptions) {
    super();
    if (queues.length === 0) throw new TypeError('A worker needs at least one queue');
    for (const q of queues) checkQueueName(q);
    this.queues = [...queues];
    this.connection = opts.connection;
    this.tasks = opts.tasks;
    this.name = opts.name ?? randomUUID().replace(/-/g, '');
    this.log = opts.logger ?? consoleLogger();
    this.logJobs = this.log.enabled?.('info') ?? true;
    this.o = resolveWorkerOptions(opts);
    this.order = new DequeueOrder(this.queues, this.o.dequeueStrategy);
    this.slots = new Slots(this.o.concurrency, this.o.maxJobs);
    this.prefetch = this.o.prefetch > 0 ? new Prefetch(this.o.prefetch) : undefined;
    // Prefetch parks and starts jobs around one call at a time: one lane.
    this.lanes = new Lanes(this.o.concurrency, this.prefetch ? 1 : this.o.lanes, (lane, items) => this.flushEnds(lane, items));
    this.liveness = new Liveness({
      name: this.name,
      queues: this.queues,
      connection: this.connection,
      log: this.log,
      o: this.o,
      running: () => this.running.values(),
      runningCount: () => this.running.size,
      pendingExecIds: () => [...this.pendingExecIds, ...(this.prefetch?.execIds() ?? [])],
      lost: (member) => {
        const r = this.running.get(member);
        if (r) {
          this.log.warning(`${r.queue}: ${r.job.id} was recovered elsewhere while it ran here (missed heartbeats); abandoning it`);
          r.detached = true;
          r.aborter.abort(new Abort('recovered by another worker'));
        }
      },
      handedBack: (jobId) => this.emit('job-handed-back', jobId),
      recovered: (jobId, outcome) => this.emit('job-recovered', jobId, outcome),
      mayHaveWork: () => {
        this.maybeWork = true;
        this.wake();
      },
      reregister: () => this.register(),
    });
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
    this.handBackParked();
    this.wake();
  }

  /**
   * Adds a hook awaited between an execution's end and the script call that
   * records it (see EndHook); returns the function that removes it.
   */
  addEndHook(hook: EndHook): () => void {
    return this.endHooks.add(hook);
  }

  /** Ids of the jobs running now. */
  runningJobIds(): string[] {
    return [...this.running.values()].map((r) => r.job.id);
  }

  /** Retries or fails jobs whose worker stopped heart-beating. */
  recoverAbandoned(): Promise<number> {
    return this.liveness.recoverAbandoned();
  }

  private async bootstrap(): Promise<void> {
    await this.connection.client('SETNAME', this.name).catch(() => {});
    await this.register();
    this.subscriber = this.connection.duplicate();
    this.subscriber.on('error', () => {});
    const channels = [keys.pubsub(this.name), ...this.queues.map(keys.wakeChannel)];
    if (this.o.withScheduler) {
      this.scheduler = new Scheduler(this.connection, this.queues, { name: this.name, logger: this.log });
      channels.push(...this.queues.map(keys.scheduledChannel));
    }
    this.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    await this.subscriber.subscribe(...channels);
    this.pushWatch = new PushWatch(
      this.connection,
      this.queues,
      () => {
        this.foreignPushes = true;
        this.wakeGen++;
        this.maybeWork = true;
        this.wake();
      },
      (msg) => this.log.debug(msg),
    );
    await this.pushWatch.start();
    // RQ 2.10's lines, keyed by the worker's Redis key as RQ's are.
    this.log.info(`Worker ${keys.worker(this.name)}: started with PID ${process.pid}, version ${ENGINE_VERSION}`);
    this.log.info(`*** Listening on ${this.queues.join(', ')}...`);
    if (this.scheduler) {
      if (this.o.burst) await this.scheduler.runOnce();
      else this.scheduler.start();
    }
    // A first heartbeat before the first recovery pass: it tells recovery
    // that a worker is alive (and, after an outage, starts its hold).
    await this.liveness.heartbeat();
    await this.liveness.recoverAbandoned();
    await this.liveness.cleanRegistries();
    this.liveness.startTimers(this.subscriber);
    this.emit('started');
  }

  /** RQ's register_birth: the worker hash and its place in rq:workers. */
  private async register(): Promise<void> {
    let ip = '';
    try {
      const info = String(await this.connection.client('INFO'));
      ip = /addr=(\S+)/.exec(info)?.[1] ?? '';
    } catch {
      /* CLIENT INFO needs Redis 6.2 */
    }
    const totals = this.counts.totals();
    await birth(this.connection, {
      worker: this.name,
      keyTtl: this.o.workerTtl + 60,
      queues: this.queues,
      fields: [
        ['queues', this.queues.join(',')],
        ['pid', process.pid],
        ['hostname', hostname()],
        ['ip_address', ip],
        ['version', ENGINE_VERSION],
        ['python_version', `node ${process.version}`],
        // A second registration (after a stall) keeps the counts so far.
        ['successful_job_count', totals.successful],
        ['failed_job_count', totals.failed],
        ['total_working_time', totals.workingTime.toFixed(6)],
        // Not an RQ field: lets birth.lua tell a resend of this call from a live namesake.
        ['birth_token', randomBytes(8).toString('hex')],
      ],
    });
  }

  private async teardown(): Promise<void> {
    this.liveness.stopTimers();
    clearTimeout(this.countsTimer);
    await this.pushWatch?.stop();
    await this.scheduler?.stop();
    try {
      const handed = await death(this.connection, { worker: this.name, queues: this.queues, counts: this.counts.totals() });
      if (handed > 0) await this.liveness.recoverAbandoned();
    } catch (err) {
      this.log.warning(`could not register death: ${(err as Error).message}`);
    }
    if (this.subscriber) {
      this.subscriber.disconnect();
      this.subscriber = undefined;
    }
    // failedJobs counts jobs that failed for good, not retried attempts.
    this.log.info(`Worker ${keys.worker(this.name)}: stopped (${this.successfulJobs} finished, ${this.failedJobs} failed)`);
    this.emit('stopped');
  }

  private onMessage(channel: string, message: string): void {
    const msg = parseControlMessage(channel, message);
    switch (msg.kind) {
      case 'wake':
        this.foreignPushes = false;
        this.wakeGen++;
        this.maybeWork = true;
        this.wake();
        break;
      case 'scheduled-wake':
        this.scheduler?.notify(msg.queue, msg.at);
        break;
      case 'malformed':
        this.log.warning(`ignoring malformed command on ${channel}: ${msg.why}`);
        break;
      case 'shutdown':
        this.log.info('Received shutdown command, shutting down after the current job(s)');
        this.stop();
        break;
      case 'kill-horse':
        this.log.info('Received kill-horse command: aborting the running job(s)');
        for (const r of this.running.values()) r.aborter.abort(new Abort('Work-horse terminated unexpectedly (kill-horse command)'));
        break;
      case 'stop-job': {
        const target = [...this.running.values()].filter((r) => r.job.id === msg.jobId);
        if (target.length === 0) this.log.info(`stop-job: job ${String(msg.jobId)} is not running here`);
        for (const r of target) {
          r.stopRequested = true;
          r.aborter.abort(new Abort('Job stopped by user, work-horse terminated.'));
        }
        break;
      }
      case 'drop-prefetched':
        if (this.prefetch?.drop(msg.jobId)) {
          this.log.info(`job ${escapeControl(msg.jobId)}: canceled or deleted while parked; dropped`);
          this.emit('job-skipped', msg.jobId);
        }
        break;
      case 'unknown':
        this.log.warning(`ignoring unknown command ${showCommand(msg.command)} on ${channel}`);
    }
  }

  private wake(): void {
    this.nudges++;
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
    return this.slots.free(this.running.size);
  }

  /**
   * A worker that stays idle for COUNTS_IDLE_MS writes the counts its last
   * calls left unsent (see JobCounts). Not at once: a worker that takes
   * jobs one at a time as they come goes idle after each, and a call there
   * would delay the next pickup; its end calls carry the counts meanwhile.
   */
  private sendCountsSoon(): void {
    if (this.countsTimer) return;
    this.countsTimer = setTimeout(() => {
      this.countsTimer = undefined;
      if (this.idle() && this.counts.pending && this.stopping === 'no') void this.sendCounts();
    }, COUNTS_IDLE_MS);
    this.countsTimer.unref();
  }

  private async sendCounts(): Promise<void> {
    const counts = this.counts.take();
    try {
      await dequeue(this.connection, this.name, { count: 0, hbTtl: 0, execTtl: 0, queues: [], execIds: [], counts });
    } catch (err) {
      this.counts.notSent();
      this.log.warning(`could not write the worker's job counts: ${(err as Error).message}`);
    }
  }

  /** Nothing runs and no call is taking jobs. */
  private idle(): boolean {
    return this.running.size === 0 && this.slots.reserved === 0;
  }

  private async mainLoop(): Promise<void> {
    while (true) {
      const idle = this.idle();
      if (this.stopping === 'cold') break;
      if (this.stopping === 'warm' && idle) {
        this.log.info(`Worker ${keys.worker(this.name)}: stopping on request`);
        break;
      }
      if (this.slots.exhausted && idle) {
        this.log.info(`Worker ${keys.worker(this.name)}: finished executing ${this.completedJobs} jobs, quitting`);
        break;
      }
      if (idle && Date.now() - this.lastBusy >= this.o.maxIdleTime * 1000) {
        this.log.info(`Worker ${keys.worker(this.name)}: idle for ${this.o.maxIdleTime} seconds, quitting`);
        break;
      }
      if (this.o.burst && idle && !this.maybeWork && !this.prefetch?.parked.length) {
        this.log.info(`Worker ${keys.worker(this.name)}: done, quitting`);
        break;
      }
      const k = this.available();
      if (k > 0 && (this.maybeWork || this.prefetch?.parked.length)) {
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
          this.log.info('Suspended in burst mode, exiting');
          this.log.info('Note: There could still be unfinished jobs on the queue');
          break;
        }
        await this.waitForNudge(1000);
        this.suspended = false;
        this.maybeWork = true;
        continue;
      }
      if (idle) {
        if (this.counts.pending) this.sendCountsSoon();
        this.emit('idle');
      }
      if (k > 0 && this.pushWatch?.active && !this.pushWatch.armed) {
        // Watch the queues for pushes that publish nothing (Python RQ's
        // RPUSH) before sleeping; jobs pushed since the last dequeue are
        // taken now, and anything that woke us meanwhile is looked at.
        // Arming waits ARM_AFTER_MS first: when our own producers enqueue
        // densely, their publish comes sooner, and the worker saves the
        // arming round trip and the invalidation that would follow. After
        // jobs that came by the watch, it arms at once: their producer
        // does not publish, and the wait would add to every pickup.
        const seen = this.nudges;
        if (!this.foreignPushes) {
          await this.waitForNudge(ARM_AFTER_MS);
          if (this.maybeWork || this.nudges !== seen) continue;
        }
        if (await this.pushWatch.arm()) this.maybeWork = this.foreignPushes = true;
        if (this.maybeWork || this.nudges !== seen) continue;
      }
      const wait = Math.min(this.o.idlePollInterval, Number.isFinite(this.o.maxIdleTime) ? this.o.maxIdleTime * 1000 : Infinity);
      await this.waitForNudge(wait);
      if (this.running.size + this.slots.reserved < this.o.concurrency) this.maybeWork = true;
    }
    // A cold stop leaves jobs to recovery; a warm one waits for them above.
    await Promise.all([...this.running.values()].map((r) => (this.stopping === 'cold' ? undefined : r.done)));
  }

  /**
   * What asks a script for up to k next jobs. Its execution ids stay
   * pending until the call settles, so that the heartbeat never hands back
   * a job whose reply is still on its way.
   */
  private dequeueTail(k: number): { next: NextJobs; ids: string[]; plan?: PrefetchPlan } {
    let count = k;
    let plan: PrefetchPlan | undefined;
    if (this.prefetch) {
      const allowed = this.slots.maxJobs - this.slots.started - this.slots.reserved + k;
      plan = this.prefetch.plan(k, allowed, this.stopping === 'no' && !this.suspended);
      count = plan.count;
    }
    const ids: string[] = [];
    for (let i = 0; i < count + (plan?.park ?? 0); i++) ids.push(nextExecutionId());
    for (const id of ids) this.pendingExecIds.add(id);
    if (plan) this.prefetch!.sent(plan, ids.slice(count));
    const prefetch = plan ? { start: [...plan.starts.map((p) => p.member), ...plan.blind.map((b) => `*${b.execId}`)], park: plan.park } : undefined;
    const next: NextJobs = {
      count,
      hbTtl: this.liveness.hbTtl,
      execTtl: this.liveness.execTtl,
      queues: this.order.next(),
      execIds: ids,
      prefetch,
      counts: this.counts.due(),
    };
    return { next, ids, plan };
  }

  /**
   * Runs the parked jobs a call just sent starts, without waiting for its
   * reply; their slots stop being reserved now that they run. Returns how
   * many of the call's k slots stay reserved until the reply: its blind
   * starts keep theirs until their job arrives or the call settles.
   */
  private startParked(plan: PrefetchPlan | undefined, k: number, lane: Lane): number {
    if (!plan) return k;
    for (const p of plan.starts) this.runParked(p, lane);
    return k - plan.starts.length - plan.blind.length;
  }

  /** Runs a parked job whose start a call sent; its reserved slot becomes a running one. */
  private runParked(p: Parked, lane: Lane): void {
    // as the start writes it (started_at from this clock: the reply is not awaited)
    const now = utcformat();
    Object.assign(p.job.fields, { status: 'started', worker_name: this.name, started_at: now, last_heartbeat: now });
    this.slots.reserved--;
    lane.busy--;
    p.run = this.start(p.job, p.queue, p.execId, lane);
    this.lastBusy = Date.now();
  }

  /**
   * The call that sent `plan`'s blind starts settled (accepted: per start
   * member, explicit ones first; undefined when the call failed and what it
   * did is unknown). A job that arrived runs on unless its start was
   * refused; one that never came gives its slot back (a start recorded for
   * it anyway, its reply lost, is handed back by the heartbeat).
   */
  private settleBlind(plan: PrefetchPlan, accepted: boolean[] | undefined, lane: Lane): void {
    this.prefetch!.settleBlind(plan);
    plan.blind.forEach((b, i) => {
      if (b.parked) {
        if (accepted && !accepted[plan.starts.length + i]) this.skipParked(b.parked);
      } else {
        this.slots.reserved--;
        lane.busy--;
      }
    });
  }

  /** Handles the reply of a call with a dequeue tail: the jobs it started, and with prefetch the parked ones. */
  private takeReply(next: Next, plan: PrefetchPlan | undefined, asked: number, gen: number, lane: Lane): void {
    if (!plan || !this.prefetch || !next.prefetched) return this.takeJobs(next.taken, asked, gen, lane);
    const { accepted, parked } = next.prefetched;
    plan.starts.forEach((p, i) => {
      if (!accepted[i]) this.skipParked(p);
    });
    this.settleBlind(plan, accepted, lane);
    this.takeJobs(next.taken, plan.count, gen, lane);
    const { arrived, started } = this.prefetch.arrive(plan, parked, this.connection);
    // jobs that later calls, sent meanwhile, start by execution id
    for (const b of started) this.runParked(b.parked!, lane);
    for (const p of [...arrived, ...started.map((b) => b.parked!)]) this.order.dequeuedFrom(p.queue);
    if (arrived.length + started.length < plan.park && gen === this.wakeGen) this.maybeWork = false;
    if (this.suspended || this.stopping !== 'no') this.handBackParked();
  }

  /** A call with a prefetch plan failed: its parkings will not come, its blind starts are settled as unknown. */
  private callFailed(plan: PrefetchPlan, lane: Lane): void {
    this.settleBlind(plan, undefined, lane);
    this.prefetch!.arrive(plan, [], this.connection);
  }

  /** A parked job the worker began was canceled, deleted or handed back before its start was recorded: drop the run. */
  private skipParked(p: Parked): void {
    const r = p.run;
    if (!r) return;
    r.skipped = true;
    r.detached = true;
    r.aborter.abort(new Abort('canceled or deleted before it started'));
    this.slots.started--;
    this.log.info(`${p.queue}: ${escapeControl(p.job.id)} was canceled or deleted before it started; its run is dropped`);
    this.emit('job-skipped', p.job.id);
  }

  /** Parked jobs the worker will not start (stop, suspension) go back to the front of their queues. */
  private handBackParked(): void {
    const parked = this.prefetch?.takeAll() ?? [];
    if (parked.length === 0) return;
    unpark(this.connection, { worker: this.name, members: parked.map((p) => p.member) }).then(
      (handed) => this.log.info(`handed ${handed.length} parked job(s) back to their queues`),
      // death.lua hands back whatever is still parked
      (err: unknown) => this.log.warning(`could not hand back parked jobs: ${(err as Error).message}`),
    );
  }

  /** Fetches up to k jobs: one dequeue call per lane with free slots. */
  private async fetch(k: number): Promise<void> {
    // Parked jobs are on their way: they go first.
    if (this.prefetch?.awaiting) return this.prefetch.settled();
    const calls: Promise<void>[] = [];
    for (const lane of this.lanes.all) {
      const n = Math.min(k, lane.free);
      if (n <= 0) continue;
      k -= n;
      calls.push(this.fetchLane(lane, n));
    }
    await Promise.all(calls);
  }

  private async fetchLane(lane: Lane, k: number): Promise<void> {
    this.slots.reserved += k;
    lane.busy += k;
    const gen = this.wakeGen;
    const { next, ids, plan } = this.dequeueTail(k);
    let left = k;
    try {
      const call = dequeue(this.connection, this.name, next);
      left = this.startParked(plan, k, lane);
      const reply = await call;
      await this.lanes.turn(() => this.takeReply(reply, plan, k, gen, lane));
    } catch (err) {
      if (plan) this.callFailed(plan, lane);
      if (next.counts) this.counts.notSent();
      throw err;
    } finally {
      this.slots.reserved -= left;
      lane.busy -= left;
      for (const id of ids) this.pendingExecIds.delete(id);
    }
  }

  /** Starts the jobs a dequeue tail returned. */
  private takeJobs(taken: Taken, asked: number, gen: number, lane: Lane): void {
    if (taken === 'suspended') {
      // The main loop clears `suspended` after each wait to look again;
      // suspensionLogged keeps the line to once per suspension, as RQ.
      if (!this.suspensionLogged) this.log.info('Worker suspended, run `openvle-rq resume` to resume');
      this.suspensionLogged = true;
      this.suspended = true;
      this.wake();
      return;
    }
    if (this.suspensionLogged) {
      this.suspensionLogged = false;
      this.log.info('Worker resumed');
    }
    let got = 0;
    for (const t of taken) {
      const job = new Job(this.connection, t.id, t.fields, t.data);
      got++;
      this.order.dequeuedFrom(t.queue);
      this.start(job, t.queue, t.execId, lane);
    }
    if (got < asked && gen === this.wakeGen) this.maybeWork = false;
    if (got > 0) this.lastBusy = Date.now();
  }

  private start(job: Job, queue: string, execId: string, lane: Lane): Running {
    const r: Running = {
      job,
      queue,
      execId,
      member: `${job.id}:${execId}`,
      aborter: new LazyAbort(),
      startedAt: Date.now() / 1000,
      lane,
    };
    this.running.set(r.member, r);
    lane.busy++;
    this.slots.started++;
    r.done = this.execute(r).catch((err: unknown) => {
      // Only a Redis failure while reporting gets here: the execution stays
      // in wip and is recovered as abandoned, so nothing is lost.
      this.log.error(`${queue}: could not record the end of ${job.id}: ${(err as Error).message}`);
      // An 'error' event nobody listens to would throw and end the process.
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      if (this.running.delete(r.member)) lane.busy--;
      this.wake();
    });
    return r;
  }

  private async execute(r: Running): Promise<void> {
    const { job, queue } = r;
    const desc = !this.logJobs ? '' : this.o.disableJobDescLogging ? job.id : jobLogName(job, this.o.logJobDescription);
    if (this.logJobs) this.log.info(`${queue}: ${desc}`);
    this.emit('job-started', job);
    let value: unknown;
    let error: unknown;
    let failed = false;
    try {
      value = await this.invoke(r);
      const cb = job.successCallbackName;
      if (cb) await this.runCallback(r, cb, Number(job.fields.success_callback_timeout) || DEFAULT_CALLBACK_TIMEOUT, [job, this.connection, value]);
    } catch (err) {
      failed = true;
      error = err;
    }
    const endedAt = Date.now() / 1000;
    if (r.detached) {
      this.running.delete(r.member);
      r.lane.busy--;
      this.wake();
      return;
    }
    if (!failed) {
      if (this.endHooks.size > 0) await this.endHooks.run(job, { ok: true, value }, this.log);
      const end: FinishRecord = {
        kind: 'finish',
        id: job.id,
        execId: r.execId,
        queue,
        startedAt: r.startedAt,
        endedAt,
        returnValue: encodeReturnValue(value),
        resultTtl: job.resultTtl ?? this.o.resultTtl,
        hasDependencies: Boolean(job.fields.dependency_ids),
        repeats: Number(job.fields.repeats_left) > 0,
      };
      await this.report(r, end, (outcome) => {
        if (r.skipped) return; // its start was refused (see skipParked): nothing was recorded
        if (outcome === 'stale') this.log.warning(`${queue}: ${job.id} had been recovered as abandoned; its result was dropped`);
        else if (outcome === 'script-error') {
          this.log.error(`${queue}: ${job.id} failed: its end could not be recorded (reason in its result)`);
          return void this.emit('job-failed', job, 'ScriptError: its end could not be recorded', 'failed');
        } else {
          this.successfulJobs++;
          this.completedJobs++;
          if (this.logJobs) this.logSuccess(r, desc, endedAt);
          if (outcome === 'repeated' || outcome === 'scheduled') {
            this.log.info(`${queue}: ${job.id} repeats (${outcome === 'scheduled' ? 'scheduled' : 'queued'} again)`);
          }
        }
        this.emit('job-finished', job, value, outcome);
      });
      return;
    }
    const mode = r.stopRequested
      ? 'stopped'
      : isUnrecoverable(error) || error instanceof MalformedJobError
        ? 'unrecoverable'
        : 'failed';
    // Stored as Python's traceback (the exception line last, where RQ's tools
    // look); the job-failed event keeps the error first, for its listeners.
    const text = error instanceof Abort ? error.message : formatTraceback(error);
    const eventText = error instanceof Abort ? error.message : describeError(error);
    if (!(error instanceof Abort)) {
      this.log.error(`[Job ${escapeControl(job.id)}]: exception raised while executing (${jobLogName(job, false).replace(/ \([^()]*\)$/, '')})\n${text}`);
    }
    const cb = mode === 'stopped' ? job.stoppedCallbackName : job.failureCallbackName;
    if (cb) {
      const timeout = Number(job.fields[mode === 'stopped' ? 'stopped_callback_timeout' : 'failure_callback_timeout']) || DEFAULT_CALLBACK_TIMEOUT;
      const cbArgs = mode === 'stopped' ? [job, this.connection] : [job, this.connection, error];
      await this.runCallback(r, cb, timeout, cbArgs).catch((e: unknown) =>
        this.log.error(`${queue}: ${mode} callback of ${job.id} failed: ${describeError(e)}`),
      );
    }
    if (this.endHooks.size > 0) await this.endHooks.run(job, { ok: false, error: eventText, stopped: mode === 'stopped' }, this.log);
    const end: FailRecord = {
      kind: 'fail',
      id: job.id,
      execId: r.execId,
      queue,
      startedAt: r.startedAt,
      endedAt,
      mode,
      excString: encodeExcString(text),
      failureTtl: this.o.failureTtl,
      queueRetry: this.o.queueRetry.get(queue) ?? '',
    };
    await this.report(r, end, (outcome) => {
      if (r.skipped) return;
      // The exception's own line: Python's traceback ends with it.
      const lastLine = text.trimEnd().split('\n').pop();
      if (outcome === 'retried' || outcome === 'scheduled') {
        this.log.info(`${queue}: ${job.id} failed (${lastLine}); retry ${outcome === 'scheduled' ? 'scheduled' : 'queued'}`);
      } else if (outcome !== 'stale') {
        this.failedJobs++;
        this.completedJobs++;
        if (outcome === 'stopped') this.log.warning('Job stopped by user, moving job to FailedJobRegistry');
        else this.log.warning(`Moving job to FailedJobRegistry (${lastLine})`);
      }
      this.emit('job-failed', job, eventText, outcome);
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
  private report(r: Running, record: EndRecord, recorded: (outcome: Outcome) => void): Promise<void> {
    // The slot stays the lane's: from running to reserved.
    this.running.delete(r.member);
    this.slots.reserved += 1;
    return r.lane.ends.push(r, record, recorded);
  }

  /** Records one batch of a lane's ends and starts the jobs its call hands out in that lane. */
  private flushEnds(lane: Lane, items: PendingEnd[]): void {
    // With prefetch, jobs parked by a call in flight are started by this
    // one by execution id (BlindStart): an end never waits for a reply.
    this.slots.reserved -= items.length;
    lane.busy -= items.length;
    const k = Math.min(this.available(), lane.free);
    this.slots.reserved += k;
    lane.busy += k;
    const gen = this.wakeGen;
    const { next: tail, ids, plan } = this.dequeueTail(k);
    const call = recordEnds(this.connection, this.name, items, tail);
    const left = this.startParked(plan, k, lane);
    call.then(
      ({ outcomes, next }) => this.lanes.turn(() => {
        this.slots.reserved -= left;
        lane.busy -= left;
        items.forEach((e, i) => {
          this.counts.add(e.record, outcomes[i]!);
          try {
            e.recorded(outcomes[i]!);
          } catch (err) {
            // a throwing event listener must not keep the next jobs from starting
            this.log.error(`job event listener failed: ${describeError(err)}`);
          }
        });
        if (k > 0 || plan) this.takeReply(next, plan, k, gen, lane);
        for (const id of ids) this.pendingExecIds.delete(id);
        for (const e of items) e.resolve();
        this.wake();
      }),
      (err: unknown) => {
        this.slots.reserved -= left;
        lane.busy -= left;
        if (plan) this.callFailed(plan, lane);
        if (tail.counts) this.counts.notSent();
        for (const id of ids) this.pendingExecIds.delete(id);
        for (const e of items) e.reject(err);
        this.wake();
      },
    );
  }

  /** RQ's lines for a job that finished. */
  private logSuccess(r: Running, desc: string, endedAt: number): void {
    const { job, queue } = r;
    this.log.info(`${queue}: Job OK (${job.id})`);
    this.log.info(`Successfully completed ${desc} job in ${(endedAt - r.startedAt).toFixed(6)}s on worker ${this.name}`);
    const ttl = job.resultTtl ?? this.o.resultTtl;
    if (ttl === 0) this.log.info('Result discarded immediately');
    else if (ttl > 0) this.log.info(`Result is kept for ${ttl} seconds`);
    else this.log.info('Result will never expire, clean up result key manually');
  }

  /** Calls the task with the job's timeout and abort signal. */
  private invoke(r: Running): Promise<unknown> {
    const { job } = r;
    const call = job.call();
    const fn = this.tasks.get(call.func);
    const timeout = job.timeout ?? DEFAULT_JOB_TIMEOUT;
    const ctx = this.context(r);
    const argv = Object.keys(call.kwargs).length > 0 ? [...call.args, call.kwargs] : call.args;
    return guard(r.aborter, timeout, () => runInJobContext(ctx, () => fn.apply(ctx, argv)));
  }

  private runCallback(r: Running, name: string, timeout: number, args: unknown[]): Promise<unknown> {
    const fn = this.tasks.get(name);
    const ctx = this.context(r);
    return guard(r.aborter, timeout, () => runInJobContext(ctx, () => fn.apply(ctx, args)));
  }

  private context(r: Running): JobContext {
    return new RunContext(r.job, r.queue, this.name, r.aborter);
  }
}
