import type { Redis } from 'ioredis';
import { keys, queueNamesFromKeys } from './keys.js';

export interface QueueInfo {
  name: string;
  /** LLEN rq:queue:<name>, rq's "count". */
  queued: number;
  executing: number;
  finished: number;
  failed: number;
  scheduled: number;
  deferred: number;
  canceled: number;
  /** Names of the workers listening on it. */
  workers: string[];
}

export interface WorkerInfo {
  name: string;
  hostname: string | null;
  ip_address: string | null;
  pid: number | null;
  state: string;
  queues: string[];
  successful_job_count: number;
  failed_job_count: number;
  total_working_time: number;
  birth: string | null;
  last_heartbeat: string | null;
  current_job: string | null;
  version: string | null;
}

export interface InfoSnapshot {
  queues: QueueInfo[];
  workers: WorkerInfo[];
  /** Workers of the queues shown, per queue (what -R prints). */
  byQueue: Map<string, WorkerInfo[]>;
  suspended: boolean;
  at: Date;
}

/**
 * What `openvle-rq info` (and rq info) shows, read with reads only: rq info
 * cleans registries first; this changes nothing, and leaves out of the
 * counts what that cleaning would remove. No queue names: every queue.
 */
export async function infoSnapshot(redis: Redis, queueNames: string[] = []): Promise<InfoSnapshot> {
  const at = new Date();
  let names = queueNames;
  if (names.length === 0) {
    names = queueNamesFromKeys(await redis.smembers(keys.queues));
  }
  const nowSec = String(Math.floor(at.getTime() / 1000));
  const p = redis.pipeline();
  for (const q of names) {
    p.llen(keys.queue(q));
    // What rq's clean_registries would drop: members scored 0..now.
    for (const kind of ['wip', 'finished', 'failed'] as const) {
      p.zcard(keys.registry(kind, q));
      p.zcount(keys.registry(kind, q), '0', nowSec);
    }
    for (const kind of ['scheduled', 'deferred', 'canceled'] as const) p.zcard(keys.registry(kind, q));
    p.smembers(keys.workersOf(q));
  }
  p.smembers(keys.workers);
  p.exists(keys.suspended);
  const replies = (await p.exec()) ?? [];
  const val = (i: number): unknown => {
    const [err, v] = replies[i] ?? [null, null];
    if (err) throw err;
    return v;
  };
  const queueWorkerKeys = new Map<string, string[]>();
  const queues: QueueInfo[] = [];
  let i = 0;
  for (const q of names) {
    const n = (k: number) => Number(val(i + k));
    queues.push({
      name: q,
      queued: n(0),
      executing: n(1) - n(2),
      finished: n(3) - n(4),
      failed: n(5) - n(6),
      scheduled: n(7),
      deferred: n(8),
      canceled: n(9),
      workers: [],
    });
    queueWorkerKeys.set(q, (val(i + 10) as string[]).slice());
    i += 11;
  }
  const allWorkerKeys = val(i) as string[];
  const suspended = Number(val(i + 1)) === 1;

  // rq: the workers of the queues shown (every worker when there are no queues).
  const wanted = new Set<string>(names.length ? [...queueWorkerKeys.values()].flat() : allWorkerKeys);
  const wkeys = [...wanted].filter((k) => k.startsWith('rq:worker:'));
  const wp = redis.pipeline();
  for (const k of wkeys) wp.hgetall(k);
  const hashes = wkeys.length ? ((await wp.exec()) ?? []) : [];
  const byKey = new Map<string, WorkerInfo>();
  wkeys.forEach((k, j) => {
    const [err, h] = hashes[j] ?? [null, null];
    const d = (err ? {} : h) as Record<string, string>;
    // rq's Worker.find_by_key skips (and rq's cleanup removes) workers whose hash is gone.
    if (!d || Object.keys(d).length === 0) return;
    const intOr0 = (v: string | undefined) => (v ? Math.trunc(Number(v)) || 0 : 0);
    byKey.set(k, {
      name: k.slice('rq:worker:'.length),
      hostname: d.hostname || null,
      ip_address: d.ip_address || null,
      pid: d.pid ? Math.trunc(Number(d.pid)) : null,
      state: d.state ?? '?',
      queues: d.queues ? d.queues.split(',') : [],
      successful_job_count: intOr0(d.successful_job_count),
      failed_job_count: intOr0(d.failed_job_count),
      total_working_time: d.total_working_time ? Number(d.total_working_time) || 0 : 0,
      birth: d.birth || null,
      last_heartbeat: d.last_heartbeat || null,
      current_job: d.current_job || null,
      version: d.version || null,
    });
  });
  const byName = (a: WorkerInfo, b: WorkerInfo) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const workers = [...byKey.values()].sort(byName);
  const byQueue = new Map<string, WorkerInfo[]>();
  for (const q of queues) {
    const ws = (queueWorkerKeys.get(q.name) ?? []).map((k) => byKey.get(k)).filter((w): w is WorkerInfo => !!w).sort(byName);
    byQueue.set(q.name, ws);
    q.workers = ws.map((w) => w.name);
  }
  return { queues, workers, byQueue, suspended, at };
}
