import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import type { CronExpressionParser as Parser } from 'cron-parser';
import type { Redis } from 'ioredis';
import { DuplicateJobError } from './errors.js';
import { keys, QUEUE_NAME_PATTERN } from './keys.js';
import { consoleLogger, type Logger } from './logger.js';
import { Queue } from './queue.js';
import { runScript } from './scripts.js';
import { ReplyWatch } from './reply-watch.js';
import { pyJsonDumps } from './serializer.js';
import type { TaskFunction } from './tasks.js';
import { parseDuration, utcformat } from './time.js';

/**
 * What to do with fire times that passed while no cron process ran:
 * - 'once' (default): enqueue one job for all of them, at once, then go on
 *   with the next fire time after now;
 * - 'all': enqueue one job per missed fire time;
 * - 'skip': enqueue none of them (a fire time counts as missed when it is
 *   more than a minute late, or one period if that is shorter), as rq cron.
 */
export type CatchUp = 'once' | 'all' | 'skip';
export const CATCH_UP_POLICIES: readonly CatchUp[] = ['once', 'all', 'skip'];

/** The options of cron.register, named as rq's register arguments in camelCase. */
export interface CronOptions {
  queueName: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** Seconds between runs. Exactly one of interval and cron. */
  interval?: number;
  /** A cron expression: 5 fields, or 6 with seconds first. */
  cron?: string;
  /** IANA time zone the cron expression is read in (default UTC). */
  tz?: string;
  jobTimeout?: number | string;
  /** Default 500, as rq cron. */
  resultTtl?: number;
  ttl?: number;
  failureTtl?: number;
  meta?: Record<string, unknown>;
  /** Identifies the entry (state and history keys); defaults to the function name. */
  name?: string;
  catchUp?: CatchUp;
}

// cron-parser (with luxon) is loaded on first use: importing 'openvle-rq'
// for a queue or a worker should not pay for it.
let parser: typeof Parser | undefined;
function cronParser(): typeof Parser {
  parser ??= (createRequire(import.meta.url)('cron-parser') as { CronExpressionParser: typeof Parser }).CronExpressionParser;
  return parser;
}

type FuncRef = string | (TaskFunction & { taskName?: unknown });

// How often a running cron process checks that Redis still answers (see ReplyWatch).
const WATCH_MS = 5000;

export class CronConfigError extends Error {
  override name = 'CronConfigError';
}

const DEFAULT_RESULT_TTL = 500;
const HISTORY_LIMIT = 1000;
const HISTORY_TTL = 31536000;
const MIN_STATE_TTL = 90 * 86400;

/** One registered job. Validated when registered; the task name of a function may be resolved later. */
export class CronEntry {
  readonly index: number;
  readonly func: FuncRef;
  readonly queueName: string;
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly interval: number | null;
  readonly cron: string | null;
  readonly tz: string | null;
  readonly jobTimeout: number | null;
  readonly resultTtl: number;
  readonly ttl: number | null;
  readonly failureTtl: number | null;
  readonly meta: Record<string, unknown> | null;
  readonly catchUp: CatchUp | null;
  private explicitName: string | null;
  private resolvedFunc: string | null;
  /** Set by the scheduler: distinguishes identical registrations. */
  key = '';

  constructor(index: number, func: FuncRef, opts: CronOptions) {
    this.index = index;
    this.func = func;
    const o = (opts ?? {}) as Partial<CronOptions>;
    this.explicitName = typeof o.name === 'string' && o.name !== '' ? o.name : null;
    this.resolvedFunc = typeof func === 'string' ? func : typeof func?.taskName === 'string' ? func.taskName : null;
    const fail = (msg: string): never => {
      throw new CronConfigError(`cron entry ${this.label}: ${msg}`);
    };
    if (typeof func === 'string') {
      if (func.trim() === '') fail('the function name is empty');
    } else if (typeof func !== 'function') {
      fail('the first argument must be a function or a task name such as "tasks.add"');
    }
    if (typeof o !== 'object' || o === null) fail('the options must be an object with at least queueName');
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) fail('name must be a non-empty string');
    if (typeof o.queueName !== 'string' || !QUEUE_NAME_PATTERN.test(o.queueName)) {
      fail(`invalid queue name ${JSON.stringify(o.queueName)}: use letters, digits, '_', '-' and '.'`);
    }
    this.queueName = o.queueName!;
    const hasInterval = o.interval !== undefined && o.interval !== null;
    const hasCron = o.cron !== undefined && o.cron !== null;
    if (hasInterval === hasCron) fail('give exactly one of interval (seconds) and cron (an expression)');
    this.interval = null;
    this.cron = null;
    this.tz = null;
    if (hasInterval) {
      if (typeof o.interval !== 'number' || !Number.isFinite(o.interval) || o.interval <= 0 || Math.round(o.interval * 1000) < 1) {
        fail(`invalid interval ${JSON.stringify(o.interval)}: use a positive number of seconds`);
      }
      this.interval = o.interval!;
      if (o.tz !== undefined) fail('tz applies to cron expressions only');
    } else {
      if (typeof o.cron !== 'string') fail('cron must be a string');
      const expr = o.cron!.trim().replace(/\s+/g, ' ');
      const nFields = expr.split(' ').length;
      if (!expr.startsWith('@') && (nFields < 5 || nFields > 6)) {
        fail(`invalid cron expression '${o.cron}': use 5 fields (minute hour day month weekday) or 6 with seconds first`);
      }
      if (o.tz !== undefined && (typeof o.tz !== 'string' || o.tz === '')) fail('tz must be an IANA time zone name');
      try {
        cronParser().parse(expr, { currentDate: new Date(), tz: o.tz ?? 'UTC', strict: false }).next();
      } catch (err) {
        fail(`invalid cron expression '${o.cron}'${o.tz ? ` in time zone '${o.tz}'` : ''}: ${(err as Error).message}`);
      }
      this.cron = expr;
      this.tz = o.tz ?? null;
    }
    if (o.args !== undefined && !Array.isArray(o.args)) fail('args must be an array');
    if (o.kwargs !== undefined && (o.kwargs === null || typeof o.kwargs !== 'object' || Array.isArray(o.kwargs))) {
      fail('kwargs must be an object');
    }
    this.args = o.args ?? [];
    this.kwargs = o.kwargs ?? {};
    try {
      pyJsonDumps([this.args, this.kwargs]);
    } catch (err) {
      fail(`args and kwargs must be JSON-serializable: ${(err as Error).message}`);
    }
    this.jobTimeout = null;
    if (o.jobTimeout !== undefined && o.jobTimeout !== null) {
      try {
        this.jobTimeout = parseDuration(o.jobTimeout);
      } catch (err) {
        fail(`invalid jobTimeout: ${(err as Error).message}`);
      }
      if (this.jobTimeout === 0 || this.jobTimeout! < -1) fail('jobTimeout must be a positive number of seconds or -1');
    }
    const intOpt = (label: string, v: unknown, min: number): number | null => {
      if (v === undefined || v === null) return null;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${label} must be an integer >= ${min}`);
      return v as number;
    };
    this.resultTtl = intOpt('resultTtl', o.resultTtl, -1) ?? DEFAULT_RESULT_TTL;
    this.failureTtl = intOpt('failureTtl', o.failureTtl, -1);
    this.ttl = intOpt('ttl', o.ttl, 1);
    if (o.meta !== undefined && o.meta !== null) {
      if (typeof o.meta !== 'object' || Array.isArray(o.meta)) fail('meta must be an object');
      try {
        pyJsonDumps(o.meta);
      } catch (err) {
        fail(`meta must be JSON-serializable: ${(err as Error).message}`);
      }
    }
    this.meta = o.meta ?? null;
    if (o.catchUp !== undefined && !CATCH_UP_POLICIES.includes(o.catchUp)) {
      fail(`invalid catchUp ${JSON.stringify(o.catchUp)}: use ${CATCH_UP_POLICIES.join(', ')}`);
    }
    this.catchUp = o.catchUp ?? null;
  }

  /** For messages: '#2 (tasks.add)'. */
  get label(): string {
    const n = this.explicitName ?? this.resolvedFunc ?? (typeof this.func === 'function' && this.func.name ? this.func.name : null);
    return `#${this.index}${n ? ` '${n}'` : ''}`;
  }

  /** The task name jobs are enqueued with; throws while a function's name is unresolved. */
  get funcName(): string {
    if (this.resolvedFunc === null) {
      throw new CronConfigError(`cron entry ${this.label}: cannot tell the task name of this function`);
    }
    return this.resolvedFunc;
  }

  get resolved(): boolean {
    return this.resolvedFunc !== null;
  }

  /** Sets the task name of a function entry (the CLI finds it among the modules the config imported). */
  resolveFunc(name: string): void {
    if (this.resolvedFunc === null) this.resolvedFunc = name;
  }

  /** rq's CronJob.name: the name given, else the function name. */
  get name(): string {
    return this.explicitName ?? this.funcName;
  }

  /** What makes two registrations the same entry, across processes and restarts. */
  get spec(): string {
    return pyJsonDumps([this.name, this.funcName, this.queueName, this.args, this.kwargs, this.interval, this.cron, this.tz]);
  }

  /** Human description of the schedule. */
  get schedule(): string {
    return this.interval !== null ? `every ${this.interval} seconds` : `with cron schedule '${this.cron}'${this.tz ? ` (${this.tz})` : ''}`;
  }

  /** The first fire time strictly after `t` (epoch ms), for cron entries. */
  cronAfter(t: number): number {
    return cronParser().parse(this.cron!, { currentDate: new Date(t), tz: this.tz ?? 'UTC' }).next().getTime();
  }

  /** The fire time after `slot`. */
  nextAfter(slot: number): number {
    if (this.interval !== null) return slot + Math.round(this.interval * 1000);
    return this.cronAfter(slot);
  }

  /** The first fire time after `now` on the entry's grid (the grid of an interval entry starts at `slot`). */
  firstAfter(slot: number, now: number): number {
    if (this.interval !== null) {
      const step = Math.round(this.interval * 1000);
      if (now < slot) return slot + step;
      return slot + (Math.floor((now - slot) / step) + 1) * step;
    }
    return this.cronAfter(Math.max(slot, now));
  }

  /** The cron expression as Python's croniter reads it (6 fields: seconds last). */
  get croniterExpression(): string | null {
    if (this.cron === null) return null;
    const f = this.cron.split(' ');
    return f.length === 6 ? [...f.slice(1), f[0]].join(' ') : this.cron;
  }
}

/** The entries a cron config registers: `import { cron } from 'openvle-rq'; cron.register(...)`. */
export class CronRegistry {
  private list: CronEntry[] = [];

  /**
   * Registers a job to enqueue on a schedule, as rq's cron.register.
   * `func` is a task name ('tasks.add') or a function exported by a task
   * module (its name is then '<module file base name>.<export name>', as the
   * worker's --import gives it) or carrying a `taskName` property.
   */
  register(func: FuncRef, opts: CronOptions): CronEntry {
    const entry = new CronEntry(this.list.length + 1, func, opts);
    this.list.push(entry);
    return entry;
  }

  entries(): CronEntry[] {
    return [...this.list];
  }

  clear(): void {
    this.list = [];
  }
}

/** The registry cron config files fill. */
export const cron = new CronRegistry();

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

type ClaimReply = [string, string, string];

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

  /** Next fire time per entry as last seen (null before start). */
  nextFireTimes(): Map<CronEntry, number | null> {
    return new Map([...this.state].map(([e, s]) => [e, s.next]));
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

  private async claim(args: (string | number)[]): Promise<ClaimReply> {
    const reply = (await runScript(this.connection, 'cron-claim', args)) as ClaimReply;
    this.offset = Number(reply[2]) - Date.now();
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
        const [outcome, stored2] = await this.claim([
          'advance', key, '', String(next), fire === null ? '' : String(fire), this.o.leaseMs, this.name, this.stateTtl(e, next), e.spec,
        ]);
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
      const [outcome, stored] = await this.claim([
        'advance', key, String(slot), String(next), missed ? '' : String(slot), this.o.leaseMs, this.name, this.stateTtl(e, next), e.spec,
      ]);
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
    if (fresh) m.zadd(hist, this.now() / 1000, jobId).zremrangebyrank(hist, 0, -(HISTORY_LIMIT + 1)).expire(hist, HISTORY_TTL);
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
        const [outcome] = await this.claim(['recover', key, slot, this.o.leaseMs, this.name]);
        if (outcome === 'claimed') {
          this.log.warning(`Taking over '${e.name}' fire time ${new Date(Number(slot)).toISOString()}: its claimer did not enqueue it`);
          await this.fire(e, Number(slot));
        }
      }
    }
  }
}
