import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { keys } from './keys.js';
import type { Logger } from './logger.js';
import { schedule, schedulerLock } from './transitions.js';
import { utcformat } from './time.js';

export interface SchedulerOptions {
  name: string;
  logger: Logger;
  /**
   * Lock TTL, s. RQ uses 61; ours is shorter (refreshed every 5 s) so that
   * the lock of a scheduler that was killed holds up scheduled jobs and
   * retries of its queues for 15 s at most, not a minute.
   */
  lockTtl?: number;
  /** How often locks are re-acquired/extended, ms. */
  lockRefreshMs?: number;
  /**
   * Longest sleep, ms. Our own producers publish when they schedule, so this
   * only bounds how late a job scheduled by Python RQ (which does not) is seen.
   */
  maxSleepMs?: number;
}

/**
 * Moves due jobs from rq:scheduled:<q> to their queues. Holds RQ's
 * rq:scheduler-lock:<q> per queue; every move checks ownership in the same
 * script, so two schedulers never enqueue one job twice. Sleeps until the
 * next due time instead of polling every second.
 */
export class Scheduler {
  private held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private plannedAt = Infinity;
  private lastLock = 0;
  private running = false;
  private stopped = false;
  private pass: Promise<void> | undefined;
  private readonly lockTtl: number;
  private readonly lockRefreshMs: number;
  private readonly maxSleepMs: number;
  /** rq:scheduler:<name>'s created_at: when this scheduler was made, not when it last refreshed its locks. */
  private readonly createdAt = utcformat();

  constructor(
    private readonly connection: Redis,
    readonly queues: string[],
    private readonly opts: SchedulerOptions,
  ) {
    this.lockTtl = opts.lockTtl ?? 15;
    this.lockRefreshMs = opts.lockRefreshMs ?? 5_000;
    this.maxSleepMs = opts.maxSleepMs ?? 1000;
  }

  get name(): string {
    return this.opts.name;
  }

  heldQueues(): string[] {
    return [...this.held];
  }

  start(): void {
    // RQ's line (its scheduler is a child process; ours runs in the worker's)
    this.opts.logger.info(`Scheduler for ${this.queues.join(',')} started with PID ${process.pid}`);
    this.running = true;
    this.plan(0);
  }

  /** A job was scheduled for `score` (epoch seconds) on `queue`: wake earlier if needed. */
  notify(queue: string, score: number): void {
    if (!this.running || !this.queues.includes(queue)) return;
    const at = score * 1000;
    this.plan(Math.max(0, at - Date.now()));
  }

  /** One pass over every queue (burst workers). Returns how many jobs moved. */
  async runOnce(): Promise<number> {
    await this.refreshLocks(true);
    let moved = 0;
    for (const q of this.held) {
      const [n] = await this.move(q);
      moved += Math.max(0, n);
    }
    return moved;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass?.catch(() => {});
    this.opts.logger.info(`Scheduler stopping, releasing locks for ${this.queues.join(',')}...`);
    try {
      await schedulerLock(this.connection, { owner: this.name, ttl: this.lockTtl, release: true, queues: this.queues });
      await this.connection.del(keys.scheduler(this.name));
    } catch (err) {
      this.opts.logger.warning(`scheduler ${this.name}: could not release locks: ${(err as Error).message}`);
    }
    this.held.clear();
  }

  private plan(delayMs: number): void {
    if (!this.running) return;
    const d = Math.min(Math.max(0, delayMs), this.maxSleepMs);
    // Keep an earlier wake-up planned by notify() while a pass was running.
    if (this.plannedAt <= Date.now() + d) return;
    if (this.timer) clearTimeout(this.timer);
    this.plannedAt = Date.now() + d;
    this.timer = setTimeout(() => {
      this.plannedAt = Infinity;
      this.pass = this.tick().finally(() => (this.pass = undefined));
    }, d);
  }

  private async refreshLocks(force = false): Promise<void> {
    if (!force && Date.now() - this.lastLock < this.lockRefreshMs) return;
    const held = await schedulerLock(this.connection, { owner: this.name, ttl: this.lockTtl, release: false, queues: this.queues });
    const gained = held.filter((q) => !this.held.has(q));
    const lost = [...this.held].filter((q) => !held.includes(q));
    if (gained.length > 0) this.opts.logger.info(`Scheduler ${this.name}: acquired locks for ${gained.join(', ')}`);
    if (lost.length > 0) this.opts.logger.warning(`Scheduler ${this.name}: lost locks for ${lost.join(', ')}`);
    this.held = new Set(held);
    this.lastLock = Date.now();
    const now = utcformat();
    await this.connection
      .multi()
      .hset(keys.scheduler(this.name), {
        name: this.name,
        hostname: hostname(),
        pid: String(process.pid),
        queues: this.queues.join(','),
        created_at: this.createdAt,
        last_heartbeat: now,
      })
      .expire(keys.scheduler(this.name), this.lockTtl)
      .exec();
  }

  private async move(q: string): Promise<[number, number | null, number]> {
    const { moved, nextDue, now } = await schedule(this.connection, { queue: q, owner: this.name, max: 1000 });
    if (moved === -1) this.held.delete(q);
    return [moved, nextDue === '' ? null : Number(nextDue), Number(now)];
  }

  private async tick(): Promise<void> {
    let delay = this.maxSleepMs;
    try {
      await this.refreshLocks();
      for (const q of [...this.held]) {
        const [moved, next, now] = await this.move(q);
        if (moved > 0) this.opts.logger.debug(`scheduler: moved ${moved} job(s) to ${q}`);
        if (moved >= 1000) delay = 0;
        else if (next !== null) delay = Math.min(delay, Math.max(0, (next - now) * 1000 + 1));
      }
    } catch (err) {
      if (!this.stopped) this.opts.logger.warning(`scheduler: ${(err as Error).message}`);
    }
    this.plan(delay);
  }
}
