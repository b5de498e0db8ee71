import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { CLEAN_BATCH } from '../defaults.js';
import { ReplyWatch } from '../reply-watch.js';
import { cleanRegistries, heartbeat, recover } from '../transitions.js';
import { encodeExcString } from '../serializer.js';
import type { RecoveryOutcome } from './events.js';
import type { ResolvedWorkerOptions } from './options.js';
import type { Running } from './running.js';

/** What the heartbeat and recovery passes need of their worker. */
export interface LivenessHost {
  readonly name: string;
  readonly queues: string[];
  readonly connection: Redis;
  readonly log: Logger;
  readonly o: ResolvedWorkerOptions;
  running(): Iterable<Running>;
  runningCount(): number;
  /** Execution ids sent with dequeue calls still awaiting their reply. */
  pendingExecIds(): string[];
  /** Called with the `${jobId}:${execId}` of executions recovered elsewhere while they ran here. */
  lost(member: string): void;
  handedBack(jobId: string): void;
  recovered(jobId: string, outcome: RecoveryOutcome): void;
  /** Jobs went back to a queue: look again. */
  mayHaveWork(): void;
  /** The worker's registration is gone (recovery took it for dead after a stall): register again. */
  reregister(): Promise<void>;
}

/**
 * The worker's heartbeats (which keep its executions alive and hand back
 * jobs whose dequeue reply was lost) and its passes that recover jobs
 * abandoned by dead workers, with their timers.
 */
export class Liveness {
  private timers: NodeJS.Timeout[] = [];
  private heartbeatBusy = false;
  private recoveryBusy = false;
  private cleaningBusy = false;
  /** Per queue: where the last cleaning pass left its canceled and deferred scans. */
  private readonly cursors = new Map<string, [string, string]>();

  constructor(private readonly w: LivenessHost) {}

  /** Seconds a heartbeat keeps an execution alive. */
  get hbTtl(): number {
    return this.w.o.deadWorkerTimeout;
  }
  get execTtl(): number {
    return this.w.o.deadWorkerTimeout + 60;
  }

  /** Heartbeats and recovery passes from now on; `subscriber` is watched for half-open connections too. */
  startTimers(subscriber: Redis): void {
    const { o, log, connection } = this.w;
    const tickMs = o.jobMonitoringInterval * 1000;
    // Twice the heartbeat interval, at least 2 s: a live Redis answers a PING
    // well within that even behind a burst of scripts.
    const stallMs = Math.max(2 * tickMs, 2000);
    const watches = [
      new ReplyWatch(connection, stallMs, (ms) => log.warning(`Redis has not answered for ${(ms / 1000).toFixed(1)} s: reconnecting`)),
      new ReplyWatch(subscriber, stallMs, (ms) => log.warning(`Redis pub/sub has not answered for ${(ms / 1000).toFixed(1)} s: reconnecting`)),
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
        if (this.recoveryBusy || connection.status !== 'ready') return;
        this.recoveryBusy = true;
        void this.recoverAbandoned().finally(() => (this.recoveryBusy = false));
      }, o.recoveryInterval * 1000),
    );
    this.timers.push(
      setInterval(() => {
        if (connection.status === 'ready') void this.cleanRegistries();
      }, o.cleanInterval * 1000),
    );
  }

  /** Drops expired registry entries of the worker's queues (RQ's clean_registries). */
  async cleanRegistries(): Promise<number> {
    if (this.cleaningBusy) return 0;
    this.cleaningBusy = true;
    let removed = 0;
    try {
      for (const q of this.w.queues) {
        // A bounded number of bounded calls per pass; a backlog (the first
        // pass after an upgrade) drains over the next passes.
        for (let i = 0; i < 20; i++) {
          const [c, d] = this.cursors.get(q) ?? ['0', '0'];
          const pass = await cleanRegistries(this.w.connection, { queue: q, batch: CLEAN_BATCH, canceledCursor: c, deferredCursor: d });
          removed += pass.removed;
          this.cursors.set(q, [pass.canceledCursor, pass.deferredCursor]);
          if (!pass.more) break;
        }
      }
      if (removed > 0) this.w.log.debug(`Cleaned registries: ${removed} expired entries removed`);
    } catch (err) {
      this.w.log.warning(`registry cleaning failed: ${(err as Error).message}`);
    } finally {
      this.cleaningBusy = false;
    }
    return removed;
  }

  stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  async heartbeat(): Promise<void> {
    if (this.heartbeatBusy) return;
    this.heartbeatBusy = true;
    const { log } = this.w;
    try {
      const running = [...this.w.running()].map((r) => ({ queue: r.queue, id: r.job.id, execId: r.execId }));
      const { lost, handed, gone } = await heartbeat(this.w.connection, {
        worker: this.w.name,
        workerTtl: this.w.runningCount() > 0 ? this.hbTtl + 60 : this.w.o.workerTtl + 60,
        hbTtl: this.hbTtl,
        execTtl: this.execTtl,
        minAge: this.w.o.jobMonitoringInterval,
        pending: this.w.pendingExecIds(),
        running,
      });
      if (gone) {
        log.warning(`Worker ${this.w.name}: its registration was removed (missed heartbeats); registering again`);
        await this.w.reregister();
      }
      for (const member of handed) {
        const jobId = member.slice(0, member.lastIndexOf(':'));
        log.warning(`job ${jobId}: handed back to its queue (the reply that gave it to this worker was lost)`);
        this.w.handedBack(jobId);
      }
      if (handed.length > 0) this.w.mayHaveWork();
      for (const member of lost) this.w.lost(member);
    } catch (err) {
      log.warning(`heartbeat failed: ${(err as Error).message}`);
    } finally {
      this.heartbeatBusy = false;
    }
  }

  /** Retries or fails jobs whose worker stopped heart-beating. */
  async recoverAbandoned(): Promise<number> {
    let n = 0;
    const { log } = this.w;
    const exc = encodeExcString(`Moved to FailedJobRegistry, due to AbandonedJobError, at ${new Date().toISOString()}`);
    for (const q of this.w.queues) {
      try {
        const out = await recover(this.w.connection, {
          queue: q,
          excString: exc,
          failureTtl: this.w.o.failureTtl,
          limit: 100,
          hbTtl: this.hbTtl,
          queueRetry: this.w.o.queueRetry.get(q) ?? '',
        });
        for (const { id, outcome } of out) {
          n++;
          log.warning(`${q}: job ${id} was abandoned by its worker: ${outcome}`);
          this.w.recovered(id, outcome);
        }
      } catch (err) {
        log.warning(`recovery pass on ${q} failed: ${(err as Error).message}`);
      }
    }
    if (n > 0) this.w.mayHaveWork();
    return n;
  }
}
