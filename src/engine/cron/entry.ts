import { createRequire } from 'node:module';
import type { CronExpressionParser as Parser } from 'cron-parser';
import { DEFAULT_RESULT_TTL } from '../defaults.js';
import { QUEUE_NAME_PATTERN } from '../keys.js';
import { pyJsonDumps } from '../serializer.js';
import type { TaskFunction } from '../tasks.js';
import { parseDuration } from '../time.js';

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

export type FuncRef = string | (TaskFunction & { taskName?: unknown });

export class CronConfigError extends Error {
  override name = 'CronConfigError';
}

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

  /** For messages: #2 'tasks.add' (the entry's number, then its name when it has one). */
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

