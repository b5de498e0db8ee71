/**
 * Prometheus metrics (prom-client) for a worker or cron process, served at
 * /metrics. Job counters come from the Worker's events; queue gauges are
 * sampled every few seconds through the engine's read-only info snapshot,
 * so a scrape never waits on Redis. Label values are bounded: queues are
 * the process's own, and a job's function name is a label only when it is
 * a registered task (anything else counts as "other").
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { infoSnapshot, type CronScheduler, type Job, type Worker } from '../index.js';

export const OTHER_TASK = 'other';

// Seconds; OpenVLE's jobs range from a mail (well under a second) to a full
// clone (minutes), so the buckets reach half an hour.
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export class OpsMetrics {
  readonly registry: Registry;
  readonly jobsStarted: Counter<'queue' | 'task'>;
  readonly jobsFinished: Counter<'queue' | 'task'>;
  readonly jobsFailed: Counter<'queue' | 'task'>;
  readonly jobsRetried: Counter<'queue' | 'task'>;
  readonly jobDuration: Histogram<'queue' | 'task' | 'outcome'>;
  readonly recovered: Counter<'outcome'>;
  readonly redisReconnects: Counter;
  readonly cronEnqueued: Counter<'queue' | 'task'>;
  readonly queueDepth: Gauge<'queue'>;
  readonly queueExecuting: Gauge<'queue'>;
  readonly queueScheduled: Gauge<'queue'>;
  readonly queueDeferred: Gauge<'queue'>;
  readonly queueFailed: Gauge<'queue'>;
  readonly workers: Gauge<'queue'>;
  readonly sampleErrors: Counter;
  private readonly stops: Array<() => void> = [];

  constructor(opts: { registry?: Registry; processDefaults?: boolean; labels?: Record<string, string> } = {}) {
    const registry = opts.registry ?? new Registry();
    this.registry = registry;
    if (opts.labels) registry.setDefaultLabels(opts.labels);
    if (opts.processDefaults !== false) collectDefaultMetrics({ register: registry });
    const registers = [registry];
    const jobLabels = ['queue', 'task'] as const;
    this.jobsStarted = new Counter({ name: 'openvle_rq_jobs_started_total', help: 'Jobs this process started', labelNames: jobLabels, registers });
    this.jobsFinished = new Counter({ name: 'openvle_rq_jobs_finished_total', help: 'Jobs this process finished successfully', labelNames: jobLabels, registers });
    this.jobsFailed = new Counter({
      name: 'openvle_rq_jobs_failed_total',
      help: 'Jobs that failed for good here (no retry left, unrecoverable, stopped)',
      labelNames: jobLabels,
      registers,
    });
    this.jobsRetried = new Counter({ name: 'openvle_rq_jobs_retried_total', help: 'Failed attempts that were requeued or scheduled for a retry', labelNames: jobLabels, registers });
    this.jobDuration = new Histogram({
      name: 'openvle_rq_job_duration_seconds',
      help: 'Time from start to end of a job execution',
      labelNames: ['queue', 'task', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.recovered = new Counter({ name: 'openvle_rq_abandoned_jobs_recovered_total', help: 'Executions of dead workers this process recovered', labelNames: ['outcome'], registers });
    this.redisReconnects = new Counter({ name: 'openvle_rq_redis_reconnects_total', help: 'Times a Redis connection of this process came back after being lost', registers });
    this.cronEnqueued = new Counter({ name: 'openvle_rq_cron_enqueued_total', help: 'Jobs the cron scheduler enqueued', labelNames: jobLabels, registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['queue'], registers });
    this.queueDepth = gauge('openvle_rq_queue_depth', 'Jobs waiting in the queue (LLEN), sampled');
    this.queueExecuting = gauge('openvle_rq_queue_executing', 'Jobs running (started registry), sampled');
    this.queueScheduled = gauge('openvle_rq_queue_scheduled', 'Jobs scheduled for later (retries with an interval, enqueue_at), sampled');
    this.queueDeferred = gauge('openvle_rq_queue_deferred', 'Jobs waiting for their dependencies, sampled');
    this.queueFailed = gauge('openvle_rq_queue_failed', 'Jobs in the failed registry, sampled');
    this.workers = gauge('openvle_rq_queue_workers', 'Workers listening on the queue, sampled');
    this.sampleErrors = new Counter({ name: 'openvle_rq_queue_sample_errors_total', help: 'Queue samples that failed (Redis unreachable)', registers });
  }

  /**
   * Counts a worker's jobs. `isTask` tells registered task names (bounded
   * label values) from anything a producer may have enqueued.
   */
  attachWorker(worker: Worker, isTask: (name: string) => boolean): void {
    const taskOf = (job: Job): string => {
      try {
        const n = job.funcName;
        return isTask(n) ? n : OTHER_TASK;
      } catch {
        return OTHER_TASK;
      }
    };
    const starts = new Map<Job, number>();
    const observe = (job: Job, outcome: string) => {
      const t0 = starts.get(job);
      starts.delete(job);
      if (t0 !== undefined) this.jobDuration.observe({ queue: job.origin, task: taskOf(job), outcome }, (performance.now() - t0) / 1000);
    };
    const onStarted = (job: Job) => {
      starts.set(job, performance.now());
      this.jobsStarted.inc({ queue: job.origin, task: taskOf(job) });
    };
    const onFinished = (job: Job, _v: unknown, outcome?: string) => {
      // 'stale': recovered as abandoned meanwhile; recovery's outcome stands.
      if (outcome === 'stale') return void starts.delete(job);
      this.jobsFinished.inc({ queue: job.origin, task: taskOf(job) });
      observe(job, 'finished');
    };
    const onFailed = (job: Job, _e: string, outcome: string) => {
      const retry = outcome === 'retried' || outcome === 'scheduled';
      (retry ? this.jobsRetried : this.jobsFailed).inc({ queue: job.origin, task: taskOf(job) });
      observe(job, retry ? 'retried' : 'failed');
    };
    const onRecovered = (_id: string, outcome: string) => this.recovered.inc({ outcome: boundedOutcome(outcome) });
    worker.on('job-started', onStarted);
    worker.on('job-finished', onFinished);
    worker.on('job-failed', onFailed);
    worker.on('job-recovered', onRecovered);
    this.stops.push(() => {
      worker.off('job-started', onStarted);
      worker.off('job-finished', onFinished);
      worker.off('job-failed', onFailed);
      worker.off('job-recovered', onRecovered);
    });
  }

  /** Counts what a cron scheduler enqueues. */
  attachCron(scheduler: CronScheduler): void {
    const onEnqueued = (entry: { queueName: string; funcName: string }) => this.cronEnqueued.inc({ queue: entry.queueName, task: entry.funcName });
    scheduler.on('enqueued', onEnqueued);
    this.stops.push(() => scheduler.off('enqueued', onEnqueued));
  }

  /** Counts the times a connection is ready again after its first ready. */
  watchRedis(redis: Redis): void {
    let seenReady = redis.status === 'ready';
    const onReady = () => {
      if (seenReady) this.redisReconnects.inc();
      seenReady = true;
    };
    redis.on('ready', onReady);
    this.stops.push(() => redis.off('ready', onReady));
  }

  /** Samples the queues' counts now. */
  async sample(redis: Redis, queues: readonly string[]): Promise<void> {
    if (queues.length === 0) return;
    try {
      const snap = await infoSnapshot(redis, [...queues]);
      for (const q of snap.queues) {
        this.queueDepth.set({ queue: q.name }, q.queued);
        this.queueExecuting.set({ queue: q.name }, q.executing);
        this.queueScheduled.set({ queue: q.name }, q.scheduled);
        this.queueDeferred.set({ queue: q.name }, q.deferred);
        this.queueFailed.set({ queue: q.name }, q.failed);
        this.workers.set({ queue: q.name }, snap.byQueue.get(q.name)?.length ?? 0);
      }
    } catch {
      this.sampleErrors.inc();
    }
  }

  /** Samples every `intervalMs` (first sample at once) until stop(). */
  startSampling(redis: Redis, queues: readonly string[], intervalMs = 5000): void {
    let busy = false;
    const tick = () => {
      if (busy) return;
      busy = true;
      void this.sample(redis, queues).finally(() => (busy = false));
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    this.stops.push(() => clearInterval(timer));
  }

  /** Detaches every listener and stops sampling. */
  stop(): void {
    for (const s of this.stops.splice(0)) s();
  }
}

// Recovery outcomes are the engine's few words (RecoveryOutcome); anything else is one label value.
function boundedOutcome(o: string): string {
  return ['retried', 'scheduled', 'failed', 'ignored', 'missing'].includes(o) ? o : 'other';
}

export interface MetricsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (and 404 elsewhere) on host:port; port 0 picks a free one. */
export async function serveMetrics(registry: Registry, port: number, host = '0.0.0.0'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String((err as Error)?.message ?? err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const actual = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port: actual,
    url: `http://${shown}:${actual}/metrics`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
