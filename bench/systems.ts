// The two systems under test behind one small interface, so that every
// figure is measured by the same code for both.
//
// Fairness settings (see bench/README.md):
// - both use ioredis (the same node_modules/ioredis) against the same Redis;
// - retention 'keep' (default): openvle-rq keeps finished jobs and results
//   for its default 500 s (worker resultTtl unset); BullMQ gets
//   removeOnComplete { age: 500 } on the worker, the same 500 s.
//   Retention 'remove': openvle-rq resultTtl 0 (hash deleted at finish),
//   BullMQ removeOnComplete { count: 0 } (what its removeOnComplete: true means).
// - BullMQ otherwise runs on its defaults (events stream, stalled checker,
//   lock renewal), with maxRetriesPerRequest: null on its connections as
//   its docs require for workers.
// - Bee-Queue 2 runs on its defaults (its own node_redis 3 client, job
//   hashes kept, events sent); retention 'keep' keeps its finished jobs
//   (its default, removeOnSuccess false: kept until removed), 'remove' sets
//   removeOnSuccess.
import BeeQueue from 'bee-queue';
import { Queue as BQueue, Worker as BWorker } from 'bullmq';
import { deflateSync } from 'node:zlib';
import type { Redis, RedisOptions } from 'ioredis';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Engine from '../src/index.js';

// openvle-rq as users run it: the compiled dist/ that `npm run bench` builds
// first (tsx's on-the-fly transform adds helpers such as __name() calls to
// hot functions). Falls back to src/ when dist/ is missing.
const distEntry = new URL('../dist/src/index.js', import.meta.url);
export const engineSource = existsSync(fileURLToPath(distEntry)) ? 'dist' : 'src';
const engineUrl: string = engineSource === 'dist' ? distEntry.href : new URL('../src/index.js', import.meta.url).href;
const ours = (await import(engineUrl)) as typeof Engine;

// BENCH_BASE=<checkout>: a second openvle-rq, built in that checkout (e.g. a
// git worktree of an older commit), measured as 'openvle-rq@base' in the
// same run, so that an A/B of two builds shares the machine's noise.
const baseDir = process.env.BENCH_BASE;
const base = baseDir
  ? ((await import(pathToFileURL(join(baseDir, 'dist', 'src', 'index.js')).href)) as typeof Engine)
  : undefined;

export type SystemName = 'openvle-rq' | 'bullmq' | 'beequeue' | 'openvle-rq@base';
export type Retention = 'keep' | 'remove';
export const SYSTEMS: SystemName[] = base ? ['openvle-rq', 'openvle-rq@base'] : ['openvle-rq', 'bullmq', 'beequeue'];
/** Systems whose producer can push as Python RQ does (a plain RPUSH). */
export const isOurs = (s: SystemName): boolean => s === 'openvle-rq' || s === 'openvle-rq@base';

function engineOf(system: SystemName): typeof Engine {
  if (system === 'openvle-rq@base') {
    if (!base) throw new Error('openvle-rq@base needs BENCH_BASE=<checkout with dist/ built>');
    return base;
  }
  return ours;
}
export const QUEUE = 'bench';
const RESULT_KEEP_SECONDS = 500;

/** The payload of a job: a sequence number and, for latency, a send stamp (ms). */
export interface Payload {
  i: number;
  t?: number;
}

export interface Producer {
  add(p: Payload): Promise<void>;
  /** openvle-rq only: what a Python RQ producer does (job hash, RPUSH, no wake-up publish). */
  push?(p: Payload, queue?: string): Promise<void>;
  addMany(ps: Payload[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  concurrency: number;
  /** openvle-rq only: the worker's prefetch (jobs parked ahead). */
  prefetch?: number;
  retention: Retention;
  /** Called when the handler starts, with the job's payload. */
  onStart: (p: Payload) => void;
  /** Called once the system has recorded the job as finished. */
  onFinished: () => void;
  /** openvle-rq only: the queues to listen on, in order (default: the bench queue). */
  queues?: string[];
}

export interface Consumer {
  /** Resolves once the worker is registered and listening. */
  ready: Promise<void>;
  close(): Promise<void>;
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

// ---------------------------------------------------------------- openvle-rq

class OursProducer implements Producer {
  private readonly conn: Redis;
  private readonly q: Engine.Queue;
  constructor(url: string, engine: typeof Engine) {
    this.conn = engine.createRedis(url);
    this.q = new engine.Queue(QUEUE, this.conn);
  }
  async add(p: Payload): Promise<void> {
    await this.q.enqueue('bench.noop', { args: [p] });
  }
  async addMany(ps: Payload[]): Promise<void> {
    await this.q.enqueueMany(ps.map((p) => ({ func: 'bench.noop', args: [p] })));
  }
  private seq = 0;
  async push(p: Payload, queue = QUEUE): Promise<void> {
    // RQ 2.10's Queue.enqueue_job: one MULTI with the job hash and the RPUSH.
    const id = `py-${process.pid}-${this.seq++}`;
    const ts = new Date().toISOString().replace('Z', '000Z');
    await this.conn
      .multi()
      .hset(`rq:job:${id}`, {
        data: deflateSync(Buffer.from(JSON.stringify(['bench.noop', null, [p], {}]))),
        status: 'queued',
        origin: queue,
        created_at: ts,
        enqueued_at: ts,
        timeout: '180',
        description: 'bench.noop(...)',
      })
      .rpush(`rq:queue:${queue}`, id)
      .sadd('rq:queues', `rq:queue:${queue}`)
      .exec();
  }
  async close(): Promise<void> {
    await this.conn.quit();
  }
}

/**
 * Extra ioredis options for openvle-rq's worker connection, for experiments
 * only (e.g. BENCH_OURS_WORKER_REDIS='{"enableAutoPipelining":true}').
 * Default: none, like BullMQ's.
 */
function oursWorkerRedisOptions(): RedisOptions {
  const raw = process.env.BENCH_OURS_WORKER_REDIS;
  return raw ? (JSON.parse(raw) as RedisOptions) : {};
}

function oursConsumer(url: string, o: ConsumerOptions, engine: typeof Engine): Consumer {
  const { createRedis, silentLogger, TaskRegistry, Worker } = engine;
  const conn = createRedis(url, oursWorkerRedisOptions());
  const tasks = new TaskRegistry().register('bench.noop', (p: Payload) => {
    o.onStart(p);
  });
  const worker = new Worker(o.queues ?? [QUEUE], {
    connection: conn,
    tasks,
    concurrency: o.concurrency,
    ...(o.prefetch ? { prefetch: o.prefetch } : {}),
    logger: silentLogger,
    ...(o.retention === 'remove' ? { resultTtl: 0 } : {}),
  });
  worker.on('job-finished', () => o.onFinished());
  worker.on('error', (err) => {
    process.stderr.write(`openvle-rq worker error: ${err.message}\n`);
  });
  // 'idle' follows the first empty dequeue, which is what arms the
  // producer's wake-up publish; 'started' would be a few ms too early.
  const ready = new Promise<void>((resolve) => {
    worker.once('idle', () => resolve());
    worker.once('job-started', () => resolve());
  });
  const loop = worker.work();
  return {
    ready,
    async close() {
      worker.stop();
      await loop;
      await conn.quit();
    },
  };
}

// -------------------------------------------------------------------- BullMQ

class BullProducer implements Producer {
  private readonly q: BQueue;
  constructor(url: string) {
    this.q = new BQueue(QUEUE, { connection: { ...hostPort(url) } });
  }
  async add(p: Payload): Promise<void> {
    await this.q.add('noop', p);
  }
  async addMany(ps: Payload[]): Promise<void> {
    await this.q.addBulk(ps.map((p) => ({ name: 'noop', data: p })));
  }
  close(): Promise<void> {
    return this.q.close();
  }
}

function bullConsumer(url: string, o: ConsumerOptions): Consumer {
  const worker = new BWorker(
    QUEUE,
    async (job) => {
      o.onStart(job.data as Payload);
    },
    {
      connection: { ...hostPort(url), maxRetriesPerRequest: null },
      concurrency: o.concurrency,
      removeOnComplete: o.retention === 'remove' ? { count: 0 } : { age: RESULT_KEEP_SECONDS },
    },
  );
  worker.on('completed', () => o.onFinished());
  worker.on('error', (err) => {
    process.stderr.write(`bullmq worker error: ${err.message}\n`);
  });
  return {
    ready: worker.waitUntilReady().then(() => undefined),
    close: () => worker.close(),
  };
}

// ----------------------------------------------------------------- Bee-Queue

class BeeProducer implements Producer {
  private readonly q: BeeQueue<Payload>;
  constructor(url: string) {
    this.q = new BeeQueue<Payload>(QUEUE, { redis: hostPort(url), isWorker: false });
  }
  async add(p: Payload): Promise<void> {
    await this.q.createJob(p).save();
  }
  async addMany(ps: Payload[]): Promise<void> {
    const errors = await this.q.saveAll(ps.map((p) => this.q.createJob(p)));
    if (errors.size > 0) throw [...errors.values()][0];
  }
  close(): Promise<void> {
    return this.q.close();
  }
}

function beeConsumer(url: string, o: ConsumerOptions): Consumer {
  const q = new BeeQueue<Payload>(QUEUE, {
    redis: hostPort(url),
    ...(o.retention === 'remove' ? { removeOnSuccess: true } : {}),
  });
  q.process(o.concurrency, async (job) => {
    o.onStart(job.data);
  });
  q.on('succeeded', () => o.onFinished());
  q.on('error', (err) => {
    process.stderr.write(`bee-queue worker error: ${err.message}\n`);
  });
  return {
    ready: q.ready().then(() => undefined),
    close: () => q.close(),
  };
}

export function makeProducer(system: SystemName, url: string): Producer {
  if (system === 'bullmq') return new BullProducer(url);
  if (system === 'beequeue') return new BeeProducer(url);
  return new OursProducer(url, engineOf(system));
}

/** Enqueues n no-op jobs ({ i: 0 } to { i: n - 1 }) with the system's own producer, 1,000 per batch. */
export async function prefill(system: SystemName, url: string, n: number): Promise<void> {
  const producer = makeProducer(system, url);
  try {
    for (let i = 0; i < n; i += 1000) {
      await producer.addMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ i: i + j })));
    }
  } finally {
    await producer.close();
  }
}

export function makeConsumer(system: SystemName, url: string, o: ConsumerOptions): Consumer {
  if (system === 'bullmq') return bullConsumer(url, o);
  if (system === 'beequeue') return beeConsumer(url, o);
  return oursConsumer(url, o, engineOf(system));
}
