import { ROLE_NAMES, type RoleName } from '../roles.js';
import type { EnvReader } from './env.js';

export interface WorkerConfig {
  /** SERVICE_ROLE; undefined when unset (then `serve` needs --role). */
  role: RoleName | undefined;
  /** WORKER_MAX_RETRY: retries of the queues that follow it. */
  maxRetry: number;
  /** WORKER_PVE_PERIODIC_INTERVAL, seconds between Proxmox syncs. */
  pvePeriodicInterval: number;
  eventsStartPrepTimeDays: number;
  eventsEndPrepTimeDays: number;
  mailMaxAgeWeeks: number;
}

export function workerConfigFromEnv(r: EnvReader): WorkerConfig {
  const roleRaw = r.raw('SERVICE_ROLE');
  let role: RoleName | undefined;
  if (roleRaw !== undefined) {
    const n = roleRaw.toLowerCase();
    if ((ROLE_NAMES as readonly string[]).includes(n)) role = n as RoleName;
    // 'backend' is the FastAPI container's role: it shares the .env but runs no worker here.
    else r.problems.push(`SERVICE_ROLE must be one of ${ROLE_NAMES.join(', ')} (got '${roleRaw}')`);
  }
  return {
    role,
    maxRetry: r.int('WORKER_MAX_RETRY', 5, { min: 0, max: 100 }),
    pvePeriodicInterval: r.int('WORKER_PVE_PERIODIC_INTERVAL', 60, { min: 1, max: 86400 }),
    eventsStartPrepTimeDays: r.int('EVENTS_START_PREP_TIME_DAYS', 7, { min: 0, max: 3650 }),
    eventsEndPrepTimeDays: r.int('EVENTS_END_PREP_TIME_DAYS', 7, { min: 0, max: 3650 }),
    mailMaxAgeWeeks: r.int('MAIL_MAX_AGE_WEEKS', 4, { min: 1, max: 520 }),
  };
}

export function describeWorker(c: WorkerConfig): Record<string, string | number> {
  return {
    role: c.role ?? '(unset)',
    maxRetry: c.maxRetry,
    pvePeriodicInterval: c.pvePeriodicInterval,
    eventsStartPrepTimeDays: c.eventsStartPrepTimeDays,
    eventsEndPrepTimeDays: c.eventsEndPrepTimeDays,
    mailMaxAgeWeeks: c.mailMaxAgeWeeks,
  };
}

export interface MongoConfig {
  /** MONGODB_URL; no MongoDB writes when unset. */
  url: string | undefined;
}

export function mongoConfigFromEnv(r: EnvReader): MongoConfig {
  return { url: r.url('MONGODB_URL', { protocols: ['mongodb:', 'mongodb+srv:'] }) };
}

export function describeMongo(c: MongoConfig): Record<string, string> {
  if (c.url === undefined) return { url: '(unset: no MongoDB writes)' };
  // The URL may carry a password: show where it points, never the credentials.
  try {
    const u = new URL(c.url);
    if (u.password) u.password = '***';
    return { url: u.toString() };
  } catch {
    return { url: '***' };
  }
}
