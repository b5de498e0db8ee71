/**
 * The containers' health check: Redis answers, MariaDB answers (when
 * OpenVLE's database is configured), and the worker or cron scheduler in
 * question is registered and heart-beating. Every check reports one line.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { connectOnce, keys, redactUrl } from '../index.js';
import type { MariaDbConfig } from '../openvle/config/mariadb.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** One line: what was found, or what failed. */
  detail: string;
}

/** Which process to check: a worker by name, or this host's own (its container's). */
export type ProcessTarget = { worker: string } | { local: 'worker' | 'scheduler' };

export interface HealthOptions {
  redisUrl: string;
  mariadb?: MariaDbConfig;
  target?: ProcessTarget;
  /** Seconds since the last heartbeat beyond which a process counts as dead. */
  maxHeartbeatAge?: number;
  timeoutMs?: number;
  /** This host's name, as workers record it (os.hostname()). */
  hostname?: string;
  now?: () => number;
}

/**
 * Cron schedulers heart-beat every 30 s and workers every few seconds; 90 s
 * is three missed cron heartbeats, long enough that a slow Redis round trip
 * never flips a container to unhealthy.
 */
export const DEFAULT_MAX_HEARTBEAT_AGE = 90;

/** Runs every check that applies; Redis first, since the process checks read it. */
export async function checkHealth(opts: HealthOptions): Promise<CheckResult[]> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const results: CheckResult[] = [];
  let redis: Redis | undefined;
  try {
    redis = await connectOnce(opts.redisUrl, timeoutMs);
    results.push({ name: 'redis', ok: true, detail: `Redis at ${redactUrl(opts.redisUrl)} answers` });
  } catch (err) {
    // connectOnce's message names the (redacted) URL already.
    const msg = firstLine(err);
    results.push({ name: 'redis', ok: false, detail: /redis/i.test(msg) ? msg : `Redis at ${redactUrl(opts.redisUrl)}: ${msg}` });
  }
  const db = opts.mariadb ? checkMariaDb(opts.mariadb, timeoutMs) : undefined;
  try {
    if (opts.target) {
      if (redis) results.push(await checkProcess(redis, opts.target, opts));
      else results.push({ name: 'process', ok: false, detail: 'not checked: Redis is unreachable' });
    }
  } finally {
    redis?.disconnect();
  }
  if (db) results.splice(1, 0, await db);
  return results;
}

export async function checkMariaDb(c: MariaDbConfig, timeoutMs = 3000): Promise<CheckResult> {
  const where = `MariaDB at ${c.host}:${c.port} (database ${c.database}, user ${c.user})`;
  let conn: Awaited<ReturnType<typeof createConnection>> | undefined;
  try {
    conn = await createConnection({ host: c.host, port: c.port, user: c.user, password: c.password, database: c.database, connectTimeout: timeoutMs });
    await conn.query('SELECT 1');
    return { name: 'mariadb', ok: true, detail: `${where} answers` };
  } catch (err) {
    const e = err as { code?: string };
    const msg = firstLine(err);
    // mysql2's messages name the user, never the password.
    return { name: 'mariadb', ok: false, detail: `${where}: ${e.code && !msg.includes(e.code) ? `${e.code}: ` : ''}${msg}` };
  } finally {
    await conn?.end().catch(() => conn?.destroy());
  }
}

function firstLine(err: unknown): string {
  const e = err as { message?: string; code?: string };
  const text = (e?.message || e?.code || String(err)).split('\n').find((l) => l.trim()) ?? 'unknown error';
  return text.trim();
}

/** RQ's utcformat ('2026-11-30T12:00:00.123456Z'), or a plain ISO date. */
function parseRqTime(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v.replace(/(\.\d{3})\d+/, '$1').replace(/(\d)$/, '$1Z'));
  return Number.isFinite(t) ? t : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function checkProcess(redis: Redis, target: ProcessTarget, opts: HealthOptions): Promise<CheckResult> {
  const now = (opts.now ?? Date.now)();
  const maxAge = opts.maxHeartbeatAge ?? DEFAULT_MAX_HEARTBEAT_AGE;
  const host = opts.hostname ?? hostname();
  if ('worker' in target) {
    const h = await redis.hgetall(keys.worker(target.worker));
    if (Object.keys(h).length === 0) return { name: 'worker', ok: false, detail: `worker ${target.worker} is not registered` };
    return freshness('worker', `worker ${target.worker}`, parseRqTime(h.last_heartbeat), now, maxAge);
  }
  if (target.local === 'worker') {
    const names = (await redis.smembers(keys.workers)).filter((k) => k.startsWith(keys.worker('')));
    const p = redis.pipeline();
    for (const k of names) p.hmget(k, 'hostname', 'pid', 'last_heartbeat');
    const rows = names.length ? ((await p.exec()) ?? []) : [];
    const mine = rows
      .map(([err, v], i) => ({ name: names[i]!.slice(keys.worker('').length), v: (err ? [] : v) as (string | null)[] }))
      .filter((r) => r.v[0] === host && r.v[1] && pidAlive(Number(r.v[1])));
    if (mine.length === 0) return { name: 'worker', ok: false, detail: `no worker of this host (${host}) is registered` };
    const results = mine.map((r) => freshness('worker', `worker ${r.name}`, parseRqTime(r.v[2] ?? undefined), now, maxAge));
    return results.find((r) => !r.ok) ?? { name: 'worker', ok: true, detail: results.map((r) => r.detail).join(', ') };
  }
  // The scheduler role: rq:cron_schedulers scores each scheduler by its last heartbeat.
  const members = await redis.zrange(keys.cronSchedulers, '0', '-1', 'WITHSCORES');
  const p = redis.pipeline();
  const entries: Array<{ name: string; score: number }> = [];
  for (let i = 0; i + 1 < members.length; i += 2) {
    entries.push({ name: members[i]!, score: Number(members[i + 1]) });
    p.hmget(keys.cronScheduler(members[i]!), 'hostname', 'pid');
  }
  const rows = entries.length ? ((await p.exec()) ?? []) : [];
  const mine = entries.filter((e, i) => {
    const v = (rows[i]?.[1] ?? []) as (string | null)[];
    return v[0] === host && v[1] && pidAlive(Number(v[1]));
  });
  if (mine.length === 0) return { name: 'scheduler', ok: false, detail: `no cron scheduler of this host (${host}) is registered` };
  const results = mine.map((e) => freshness('scheduler', `cron scheduler ${e.name}`, e.score * 1000, now, maxAge));
  return results.find((r) => !r.ok) ?? { name: 'scheduler', ok: true, detail: results.map((r) => r.detail).join(', ') };
}

function freshness(name: string, what: string, at: number | undefined, now: number, maxAge: number): CheckResult {
  if (at === undefined) return { name, ok: false, detail: `${what} has never heart-beaten` };
  const age = Math.max(0, (now - at) / 1000);
  if (age > maxAge) return { name, ok: false, detail: `${what} last heart-beat ${Math.round(age)}s ago (limit ${maxAge}s)` };
  return { name, ok: true, detail: `${what} heart-beat ${Math.round(age)}s ago` };
}
