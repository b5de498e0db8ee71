import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { CRON_HISTORY_LIMIT, CRON_HISTORY_TTL } from '../defaults.js';
import { DuplicateJobError } from '../errors.js';
import { keys } from '../keys.js';
import { consoleLogger, type Logger } from '../logger.js';
import { Queue } from '../queue.js';
import { cronClaim, type CronClaimArgs, type CronClaimReply } from '../transitions.js';
import { ReplyWatch } from '../reply-watch.js';
import { pyJsonDumps } from '../serializer.js';
import { utcformat } from '../time.js';
import { CATCH_UP_POLICIES, CronConfigError, type CatchUp, type CronEntry } from './entry.js';

// How often a running cron process checks that Redis still answers (see ReplyWatch).
const WATCH_MS = 5000;

const MIN_STATE_TTL = 90 * 86400;

export interface CronSchedulerOptions {
  /** Default: '<hostname>:<pid>:<6 hex>', as rq. */
  name?: string;
  logger?: Logger;
  /** Shown in rq:cron_scheduler:<name> (config_file). */
  configFile?: string;
  /** Policy for entries that set none (default 'once'). */
  catchUp?: CatchUp;
  /** Ms between heartbeats (rq: each loop, at most 60 s; stale after 120 s). */
  heartbeatMs?: number;
  /** Ms a claimed fire time may stay unenqueued before another process takes it over. */
  leaseMs?: number;
  /** Longest sleep between passes, ms. */
  maxSleepMs?: number;
}

export interface CronSchedulerEvents {
  enqueued: [entry: CronEntry, jobId: string, fireTime: number];
  skipped: [entry: CronEntry, fireTime: number];
  error: [err: Error];
}

interface EntryState {
  next: number | null;
  last: number | null;
}

const SKIP_GRACE_MS = 60_000;

/**
 * Enqueues cron entries when due. Any number of schedulers may run the same
 * entries against one Redis: each fire time is claimed in Redis (a
 * compare-and-set of the entry's stored next fire time, cron-claim.lua)
 * before its job is enqueued, so it is enqueued once. The next fire time
 * lives in Redis too, so restarts neither fire interval entries again at
 * once nor lose fire times missed while down (see CatchUp).
 *
 * Jobs get the id cron-<entry key>-<fire time ms> and are enqueued as
 * unique, so a fire time whose claimer died before enqueueing is enqueued
 * by another process once the claim's lease runs out, and never twice.
 */
export class CronScheduler extends EventEmitter<CronSchedulerEvents> {
  readonly name: string;
  readonly entries: CronEntry[];
  private readonly log: Logger;
  private readonly o: Required<Omit<CronSchedulerOptions, 'name' | 'logger'>>;
  private readonly state = new Map<CronEntry, EntryState>();
  private readonly createdAt = new Date();
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private hbTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private running = false;
  private dirty = false;

  constructor(
    readonly connection: Redis,
    entries: CronEntry[],
    opts: CronSchedulerOptions = {},
  ) {
    super();
    if (entries.length === 0) throw new CronConfigError('no cron entries to run');
    this.entries = entries;
    this.name = opts.name ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.log = opts.logger ?? consoleLogger();
    this.o = {
      configFile: opts.configFile ?? '',
      catchUp: opts.catchUp ?? 'once',
      heartbeatMs: opts.heartbeatMs ?? 30_000,
      leaseMs: opts.leaseMs ?? 30_000,
      maxSleepMs: opts.maxSleepMs ?? 60_000,
    };
    if (!CATCH_UP_POLICIES.includes(this.o.catchUp)) throw new CronConfigError(`invalid catch-up policy '${this.o.catchUp}'`);
    // Entry keys: a hash of what defines the entry, numbered when a config
    // registers the very same thing twice (both then run, as in rq).
    const seen = new Map<string, number>();
    for (const e of entries) {
      const spec = e.spec; // throws for unresolved functions
      const h = createHash('sha1').update(spec).digest('hex').slice(0, 12);
      const n = (seen.get(h) ?? 0) + 1;
      seen.set(h, n);
      e.key = n === 1 ? h : `${h}x${n}`;
      this.state.set(e, { next: null, last: null });
    }
  }

  static stateKey(entry: CronEntry): string {
    return keys.cronState(entry.name, entry.key);
  }
  static historyKey(entry: CronEntry): string {
    return keys.cronJobs(entry.name);
  }
  static jobId(entry: CronEntry, fireTime: number): string {
    return `cron-${entry.key}-${fireTime}`;
  }
  get key(): string {
    return keys.cronScheduler(this.name);
  }

  /** Redis' clock, as estimated from the last reply. */
  now(): number {
    return Date.now() + this.offset;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.syncClock();
    for (const e of this.entries) this.log.info(`Registered '${e.funcName}' to run on ${e.queueName} ${e.schedule}`);
    await this.registerBirth();
    this.log.info(`CronScheduler ${this.name}: started with ${this.entries.length} entries${this.o.configFile ? ` from '${this.o.configFile}'` : ''}`);
    await this.recoverPending();
    this.hbTimer = setInterval(() => void this.heartbeat(), this.o.heartbeatMs);
    const watch = new ReplyWatch(this.connection, 2 * WATCH_MS, (ms) =>
      this.log.warning(`CronScheduler ${this.name}: Redis has not answered for ${(ms / 1000).toFixed(1)} s: reconnecting`),
    );
    this.watchTimer = setInterval(() => watch.tick(WATCH_MS), WATCH_MS);
    this.pass = this.tick().finally(() => (this.pass = undefined));
    await this.pass;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.hbTimer) clearInterval(this.hbTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    await this.pass?.catch(() => {});
    try {
      await this.connection.zrem(keys.cronSchedulers, this.name);
    } catch (err) {
      this.log.warning(`CronScheduler ${this.name}: could not register death: ${(err as Error).message}`);
    }
    this.log.info(`CronScheduler ${this.name}: shutdown complete`);
  }

  private async syncClock(): Promise<void> {
    const before = Date.now();
    const [s, us] = (await this.connection.time()) as [number | string, number | string];
    const after = Date.now();
    this.offset = Number(s) * 1000 + Math.floor(Number(us) / 1000) - Math.round((before + after) / 2);
  }

  private cronJobsJson(): string {
    const iso = (ms: number | null) => (ms === null ? null : utcformat(new Date(ms)));
    return pyJsonDumps(
      this.entries.map((e) => {
        const s = this.state.get(e)!;
        const d: Record<string, unknown> = {
          func_name: e.funcName,
          name: e.name,
          queue_name: e.queueName,
          args: e.args.length ? pyJsonDumps(e.args) : null,
          kwargs: Object.keys(e.kwargs).length ? pyJsonDumps(e.kwargs) : null,
          interval: e.interval,
          cron: e.croniterExpression,
          latest_enqueue_time: iso(s.last),
          next_enqueue_time: iso(s.next),
        };
        if (e.jobTimeout !== null) d.job_timeout = e.jobTimeout;
        d.result_ttl = e.resultTtl;
        if (e.ttl !== null) d.ttl = e.ttl;
        if (e.failureTtl !== null) d.failure_ttl = e.failureTtl;
        if (e.meta !== null) d.meta = pyJsonDumps(e.meta);
        if (e.tz !== null) d.tz = e.tz;
        return d;
      }),
    );
  }

  /** rq's register_birth: ZADD NX rq:cron_schedulers, then the hash with a 60 s TTL. */
  private async registerBirth(): Promise<void> {
    await this.connection
      .multi()
      .zadd(keys.cronSchedulers, 'NX', this.now() / 1000, this.name)
      .hset(this.key, {
        hostname: hostname(),
        pid: String(process.pid),
        name: this.name,
        created_at: utcformat(this.createdAt),
        config_file: this.o.configFile,
        cron_jobs: this.cronJobsJson(),
      })
      .expire(this.key, 60)
      .exec();
  }

  private async heartbeat(): Promise<void> {
    try {
      const res = await this.connection
        .multi()
        .zadd(keys.cronSchedulers, 'XX', 'CH', this.now() / 1000, this.name)
        .hset(this.key, 'cron_jobs', this.cronJobsJson())
        .expire(this.key, 120)
        .exec();
      // Dropped by a cleanup while we stalled: register again.
      if (res && res[0]?.[1] === 0 && this.running) await this.registerBirth();
      await this.recoverPending();
    } catch (err) {
      this.log.warning(`CronScheduler ${this.name}: heartbeat failed: ${(err as Error).message}`);
    }
  }

  private plan(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const d = Math.min(Math.max(0, delayMs), this.o.maxSleepMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.pass) return this.plan(10);
      this.pass = this.tick().finally(() => (this.pass = undefined));
    }, d);
  }

  /** One pass: enqueues what is due, then plans the next pass. */
  private async tick(): Promise<void> {
    let delay = this.o.maxSleepMs;
    try {
      for (const e of this.entries) {
        await this.runEntry(e);
        if (!this.running) return;
      }
      if (this.dirty) {
        this.dirty = false;
        await this.connection.hset(this.key, 'cron_jobs', this.cronJobsJson());
      }
      const now = this.now();
      for (const s of this.state.values()) if (s.next !== null) delay = Math.min(delay, s.next - now);
    } catch (err) {
      this.log.error(`CronScheduler ${this.name}: ${(err as Error).message}`);
      this.emit('error', err as Error);
      delay = Math.min(delay, 1000);
    }
    this.plan(delay);
  }

  private policy(e: CronEntry): CatchUp {
    return e.catchUp ?? this.o.catchUp;
  }

  private stateTtl(e: CronEntry, slot: number): number {
    const period = Math.max(1, Math.ceil((e.nextAfter(slot) - slot) / 1000));
    return Math.max(MIN_STATE_TTL, 3 * period);
  }

  private async claim(args: CronClaimArgs): Promise<CronClaimReply> {
    const reply = await cronClaim(this.connection, args);
    this.offset = reply.nowMs - Date.now();
    return reply;
  }

  /** Fires every due fire time of one entry (one, unless the policy is 'all'). */
  private async runEntry(e: CronEntry): Promise<void> {
    const s = this.state.get(e)!;
    const key = CronScheduler.stateKey(e);
    for (let guard = 0; guard < 100_000 && this.running; guard++) {
      const now = this.now();
      if (s.next === null) {
        const stored = await this.connection.hmget(key, 'next', 'last');
        if (stored[0] !== null && stored[0] !== '') {
          s.next = Number(stored[0]);
          s.last = stored[1] ? Number(stored[1]) : s.last;
          continue;
        }
        // First run of this entry anywhere: interval entries fire at once
        // (as rq), cron entries wait for their first fire time.
        const fire = e.interval !== null ? now : null;
        const next = fire !== null ? e.nextAfter(fire) : e.cronAfter(now);
        const { outcome, next: stored2 } = await this.claim({
          mode: 'advance', key, expectedNext: '', newNext: String(next), fire: fire === null ? '' : String(fire),
          leaseMs: this.o.leaseMs, owner: this.name, stateTtl: this.stateTtl(e, next), spec: e.spec,
        });
        s.next = stored2 === '' ? null : Number(stored2);
        if (outcome === 'claimed') await this.fire(e, fire!);
        if (s.next === null) return; // state vanished meanwhile; next pass
        continue;
      }
      if (s.next > now) return;
      const slot = s.next;
      const policy = this.policy(e);
      const period = e.nextAfter(slot) - slot;
      const missed = policy === 'skip' && now - slot > Math.min(SKIP_GRACE_MS, period);
      const next = policy === 'all' ? e.nextAfter(slot) : e.firstAfter(slot, now);
      const { outcome, next: stored } = await this.claim({
        mode: 'advance', key, expectedNext: String(slot), newNext: String(next), fire: missed ? '' : String(slot),
        leaseMs: this.o.leaseMs, owner: this.name, stateTtl: this.stateTtl(e, next), spec: e.spec,
      });
      if (outcome === 'early') return; // our clock ran ahead; claim() resynced it
      s.next = stored === '' ? null : Number(stored);
      if (outcome === 'claimed') await this.fire(e, slot);
      else if (outcome === 'advanced' && missed) {
        this.log.info(`Skipped '${e.name}' fire time ${new Date(slot).toISOString()} (missed; catch-up policy 'skip')`);
        this.emit('skipped', e, slot);
        this.dirty = true;
      }
    }
  }

  /** Enqueues the job of a claimed fire time, then releases the claim. */
  private async fire(e: CronEntry, slot: number): Promise<void> {
    const s = this.state.get(e)!;
    const jobId = CronScheduler.jobId(e, slot);
    const queue = new Queue(e.queueName, this.connection);
    let fresh = true;
    try {
      await queue.enqueue(e.funcName, {
        jobId,
        unique: true,
        args: e.args,
        kwargs: e.kwargs,
        resultTtl: e.resultTtl,
        ...(e.jobTimeout !== null ? { jobTimeout: e.jobTimeout } : {}),
        ...(e.ttl !== null ? { ttl: e.ttl } : {}),
        ...(e.failureTtl !== null ? { failureTtl: e.failureTtl } : {}),
        ...(e.meta !== null ? { meta: e.meta } : {}),
      });
    } catch (err) {
      if (!(err instanceof DuplicateJobError)) throw err;
      fresh = false;
    }
    // rq's job history (rq:cron_job:<name>:jobs, newest 1000, one year).
    const hist = CronScheduler.historyKey(e);
    const m = this.connection.multi();
    if (fresh) m.zadd(hist, this.now() / 1000, jobId).zremrangebyrank(hist, 0, -(CRON_HISTORY_LIMIT + 1)).expire(hist, CRON_HISTORY_TTL);
    await m.zrem(`${CronScheduler.stateKey(e)}:pending`, String(slot)).exec();
    s.last = Math.max(s.last ?? 0, slot);
    this.dirty = true;
    if (fresh) {
      this.log.info(`Enqueued job ${e.funcName} to queue ${e.queueName} (job ${jobId}, fire time ${new Date(slot).toISOString()})`);
      this.emit('enqueued', e, jobId, slot);
    } else {
      // Only after a claim was taken over from a process that had enqueued
      // but not yet released it: the job id kept it from running twice.
      this.log.warning(`Fire time ${new Date(slot).toISOString()} of '${e.name}' was already enqueued (job ${jobId})`);
    }
  }

  /** Enqueues fire times whose claimer died before enqueueing them. */
  private async recoverPending(): Promise<void> {
    for (const e of this.entries) {
      const key = CronScheduler.stateKey(e);
      const expired = await this.connection.zrangebyscore(`${key}:pending`, '-inf', String(this.now()));
      for (const slot of expired) {
        const { outcome } = await this.claim({ mode: 'recover', key, fire: slot, leaseMs: this.o.leaseMs, owner: this.name });
        if (outcome === 'claimed') {
          this.log.warning(`Taking over '${e.name}' fire time ${new Date(Number(slot)).toISOString()}: its claimer did not enqueue it`);
          await this.fire(e, Number(slot));
        }
      }
    }
  }
}
