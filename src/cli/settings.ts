/**
 * rq's -c/--config: a settings module (here .ts, .js or .mjs) exporting rq's
 * settings names, and/or an application description (defineApp) as `app` or
 * its default export. Flags given on the command line win over it, as in rq.
 */
import { isApp, type App } from '../index.js';
import { CliError, oneLine } from './common.js';
import { importUser, userFile } from './loader.js';

export interface Settings {
  /** REDIS_URL, or one built from REDIS_HOST / REDIS_PORT / REDIS_DB / REDIS_PASSWORD / REDIS_SSL. */
  redisUrl?: string;
  /** QUEUES: the worker's queues when none are given. */
  queues?: string[];
  /** NAME: the worker's name. */
  name?: string;
  app?: App;
}

// rq settings names that have no meaning here; named so that a settings
// module written for rq loads, with a note, instead of failing.
const IGNORED = ['SENTRY_DSN', 'SENTRY_CA_CERTS', 'SENTRY_DEBUG', 'DASHBOARD_FETCH_INTERVAL', 'REDIS_SENTINEL_SETTINGS', 'REDIS_SSL_CERT_REQS'];

function str(mod: Record<string, unknown>, name: string, file: string): string | undefined {
  const v = mod[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') throw new CliError(`settings module '${file}': ${name} must be a string`);
  return v;
}

/** Loads a settings module; every problem is one line naming the file. */
export async function loadSettings(file: string, warn: (line: string) => void = () => {}): Promise<Settings> {
  let abs: string;
  try {
    abs = userFile(file, 'settings module');
  } catch (err) {
    throw new CliError(oneLine(err));
  }
  let mod: Record<string, unknown>;
  try {
    mod = await importUser(abs);
  } catch (err) {
    throw new CliError(`settings module '${file}' failed to load: ${oneLine(err)}`);
  }
  const out: Settings = {};
  const url = str(mod, 'REDIS_URL', file);
  if (url) out.redisUrl = url;
  else if (['REDIS_HOST', 'REDIS_PORT', 'REDIS_DB', 'REDIS_PASSWORD'].some((k) => mod[k] !== undefined)) {
    const host = str(mod, 'REDIS_HOST', file) ?? '127.0.0.1';
    const port = str(mod, 'REDIS_PORT', file) ?? '6379';
    const db = str(mod, 'REDIS_DB', file) ?? '0';
    const password = str(mod, 'REDIS_PASSWORD', file);
    const scheme = mod.REDIS_SSL === true ? 'rediss' : 'redis';
    out.redisUrl = `${scheme}://${password ? `:${encodeURIComponent(password)}@` : ''}${host}:${port}/${db}`;
  }
  if (mod.QUEUES !== undefined) {
    const q = mod.QUEUES;
    if (!Array.isArray(q) || q.some((x) => typeof x !== 'string')) throw new CliError(`settings module '${file}': QUEUES must be a list of queue names`);
    out.queues = q as string[];
  }
  const name = str(mod, 'NAME', file);
  if (name) out.name = name;
  const app = mod.app ?? mod.default;
  if (app !== undefined) {
    if (!isApp(app)) throw new CliError(`settings module '${file}': its ${mod.app !== undefined ? "'app' export" : 'default export'} is not an application description (use defineApp from 'openvle-rq')`);
    out.app = app;
  }
  for (const k of IGNORED) if (mod[k] !== undefined) warn(`settings module '${file}': ${k} is not supported here and is ignored`);
  return out;
}
