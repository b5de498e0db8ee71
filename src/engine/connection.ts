import { Redis, type RedisOptions } from 'ioredis';
import { describeTlsError, tlsFromQuery } from './redis-tls.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The URL every entry point uses when none is given: RQ_REDIS_URL, then REDIS_URL. */
export function defaultRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.RQ_REDIS_URL || env.REDIS_URL || DEFAULT_REDIS_URL;
}

/** A Redis URL (or Sentinel setting) that cannot be used. */
export class ConnectionConfigError extends Error {
  override name = 'ConnectionConfigError';
}

/** Redis did not answer, or refused the connection (connectOnce). */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

/**
 * Redis options from a URL: redis://[user:password@]host:port/db,
 * rediss:// for TLS (CA and client certificate from redis-py's query parameters
 * ?ssl_ca_certs=&ssl_certfile=&ssl_keyfile= or RQ_TLS_CA_FILE, RQ_TLS_CERT_FILE,
 * RQ_TLS_KEY_FILE: see redis-tls.ts), and redis+sentinel://[user:password@]host:port[,host:port...]/master[/db]
 * for Sentinel. RQ_SENTINELS (host:port,...) with RQ_SENTINEL_MASTER does the
 * same from the environment.
 */
export function redisOptionsFromUrl(url: string, env: NodeJS.ProcessEnv = process.env): RedisOptions {
  if (env.RQ_SENTINELS && env.RQ_SENTINEL_MASTER && (url === defaultRedisUrl(env) || !url)) {
    return {
      sentinels: parseHosts(env.RQ_SENTINELS),
      name: env.RQ_SENTINEL_MASTER,
      password: env.RQ_SENTINEL_REDIS_PASSWORD || undefined,
      sentinelPassword: env.RQ_SENTINEL_PASSWORD || undefined,
    };
  }
  const sentinel = /^redis\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)\/([^/]+)(?:\/(\d+))?\/?$/.exec(url);
  // Rather than a master named 'mymaster?ssl_ca_certs=...', or "Invalid Redis URL".
  if (url.startsWith('redis+sentinel://') && url.slice(url.lastIndexOf('@') + 1).includes('?')) {
    throw new ConnectionConfigError('redis+sentinel:// URLs take no parameters (TLS to the sentinels and the master is not supported)');
  }
  if (sentinel) {
    return {
      sentinels: parseHosts(sentinel[3]!),
      name: decodeURIComponent(sentinel[4]!),
      username: sentinel[1] ? decodeURIComponent(sentinel[1]) : undefined,
      password: sentinel[2] ? decodeURIComponent(sentinel[2]) : undefined,
      db: sentinel[5] ? Number(sentinel[5]) : 0,
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConnectionConfigError(`Invalid Redis URL '${redactUrl(url)}'`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConnectionConfigError(
      `Invalid Redis URL '${redactUrl(url)}': the scheme must be redis://, rediss:// or redis+sentinel://`,
    );
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new ConnectionConfigError(`Invalid Redis URL '${redactUrl(url)}': bad db '${db}'`);
  let tls: RedisOptions['tls'];
  try {
    tls = tlsFromQuery(parsed.protocol === 'rediss:', parsed.searchParams, env);
  } catch (err) {
    throw new ConnectionConfigError(`Redis TLS settings: ${(err as Error).message}`);
  }
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : 0,
    tls,
  };
}

function parseHosts(list: string): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(hp.trim());
    if (!m) throw new ConnectionConfigError(`Invalid sentinel address '${hp}'`);
    return { host: m[1]!, port: m[2] ? Number(m[2]) : 26379 };
  });
}

/**
 * The URL with its password replaced, for messages and logs. The password
 * may itself hold '@', ':' or '/': the user part ends at the last '@', so
 * nothing of it shows. A URL with credentials that is not even of the form
 * scheme://user@host is not shown at all.
 */
export function redactUrl(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  if (!scheme || at < scheme[0].length) return '<a URL with credentials, not shown>';
  const userinfo = url.slice(scheme[0].length, at);
  const user = userinfo.includes(':') ? userinfo.slice(0, userinfo.indexOf(':')) : '';
  return `${scheme[0]}${user}:***@${url.slice(at + 1)}`;
}

/**
 * A connection that keeps retrying with back-off (capped at 2 s) and
 * resends what was in flight when it comes back: the worker's scripts are
 * idempotent for exactly that reason.
 */
export function createRedis(url: string = defaultRedisUrl(), extra: RedisOptions = {}): Redis {
  const options: RedisOptions = {
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    maxRetriesPerRequest: null,
    ...redisOptionsFromUrl(url),
    ...extra,
  };
  const redis = new Redis(options);
  // Connection errors are retried by ioredis and surface as failed commands,
  // which the callers log; without a listener ioredis prints each one raw.
  redis.on('error', () => {});
  return redis;
}

/**
 * Fails fast (one attempt, short timeout, no offline queue), for CLIs that
 * must say "unreachable" and exit. The error names the cause. With Sentinel,
 * each sentinel is asked once (ioredis would retry the list forever) and the
 * whole attempt is bounded too, so a sentinel or server that accepts the
 * connection and then says nothing cannot hang the caller.
 */
export async function connectOnce(url: string, timeoutMs = 3000): Promise<Redis> {
  const options = redisOptionsFromUrl(url);
  const redis = new Redis({
    ...options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    sentinelCommandTimeout: timeoutMs,
    enableOfflineQueue: false,
  });
  // The first error event says why (refused, auth, TLS); connect() then only
  // rejects with "Connection is closed."
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  // A sentinel that answers but does not know the master is not an error event.
  const sentinelErrors: string[] = [];
  redis.on('sentinelError', (err: Error) => sentinelErrors.push(err.message));
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async () => {
    await redis.connect();
    await redis.ping();
  })();
  attempt.catch(() => {}); // when the deadline wins, its later rejection is expected
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeoutMs + 500);
  });
  try {
    await Promise.race([attempt, deadline]);
  } catch (err) {
    redis.disconnect();
    const e = cause ?? (err as Error);
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ETIMEDOUT' || /timed? ?out/i.test(e.message)
        ? `no answer within ${timeoutMs / 1000} s`
        : (describeTlsError(e, options.tls) ?? sentinelFailure(e, sentinelErrors) ?? e.message);
    throw new RedisUnreachableError(`Cannot reach Redis at ${redactUrl(url)}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

/** ioredis' "all sentinels are unreachable" said with what each sentinel answered. */
function sentinelFailure(err: Error, sentinelErrors: string[]): string | undefined {
  if (!/All sentinels are unreachable/.test(err.message)) return undefined;
  const each = sentinelErrors.map((m) =>
    m
      .replace(/^connected to sentinel (\S+) successfully, but got an invalid reply: null$/, 'sentinel $1 does not know that master')
      .replace(/^failed to connect to sentinel (\S+) because (.*)$/, 'sentinel $1: $2')
      // ioredis keeps the socket's own error (ECONNREFUSED) to itself
      .replace(/: Connection is closed\.$/, ': connection refused or closed'),
  );
  return `no sentinel gave the master's address (${[...new Set(each)].join('; ') || err.message})`;
}
