// What bench/lua-ab.ts, lua-cost.ts and lua-instructions.ts drive the
// scripts with: jobs shaped as Queue.enqueueMany writes them, dequeue
// tails, and the end of a no-op job.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { dequeue, enqueue, type FinishRecord, type NextJobs, type TakenJob } from '../src/engine/transitions.js';

export const QUEUE = 'ab';

/** A dequeue tail for k jobs of `queue`, with fresh execution ids. */
export function next(k: number, queue = QUEUE): NextJobs {
  const execIds: string[] = [];
  for (let i = 0; i < k; i++) execIds.push(randomBytes(16).toString('hex'));
  return { count: k, hbTtl: 20, execTtl: 80, queues: [queue], execIds };
}

/** A no-op job's successful end, as the worker records it (no return value, no dependencies, no repeats). */
export function finishOf(t: { id: string; execId: string }, resultTtl: number, queue = QUEUE): FinishRecord {
  const now = Date.now() / 1000;
  return { kind: 'finish', id: t.id, execId: t.execId, queue, returnValue: '', resultTtl, hasDependencies: false, repeats: false, startedAt: now - 0.0001, endedAt: now };
}

/** The jobs a dequeue tail took; a queue that ran dry is the bench's mistake. */
export function taken({ taken: t }: Awaited<ReturnType<typeof dequeue>>, k = 1): TakenJob[] {
  if (t === 'suspended' || t.length < k) throw new Error('bench: the queue ran dry');
  return t;
}

/** Enqueues n no-op jobs on QUEUE (data left uncompressed, as enqueueMany). */
export async function fillQueue(r: Redis, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const jobs: { spec: string; data: Buffer }[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const fields = {
        status: 'queued', success_callback_name: '', failure_callback_name: '', stopped_callback_name: '',
        started_at: '', ended_at: '', last_heartbeat: '', worker_name: '', group_id: '',
        description: `bench.noop({'i': ${j}})`, timeout: '180',
      };
      jobs.push({
        spec: JSON.stringify({ id: randomBytes(16).toString('hex'), origin: QUEUE, fields }),
        data: Buffer.from(JSON.stringify(['bench.noop', null, [{ i: j }], {}])),
      });
    }
    await enqueue(r, jobs, []);
  }
}
