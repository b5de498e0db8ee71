import { mask, type EnvReader } from './env.js';

export interface MariaDbConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Where the values came from, for `openvle-rq config`. */
  source: 'DATABASE_URL' | 'MARIADB_*';
}

const DB_NAME = /^[A-Za-z0-9_$-]{1,64}$/;

/**
 * MARIADB_* with their defaults, or DATABASE_URL
 * (mysql://user:password@host:port/db, also mariadb://) which overrides
 * them all. MARIADB_USER defaults to root with an empty password: the one
 * account every MariaDB server (and the official image) has, so a
 * development setup runs with nothing set; production sets both.
 */
export function mariadbConfigFromEnv(r: EnvReader): MariaDbConfig {
  const url = r.raw('DATABASE_URL');
  if (url !== undefined) return fromUrl(r, url);
  const database = r.string('MARIADB_DATABASE', 'openvle');
  if (!DB_NAME.test(database)) r.problems.push(`MARIADB_DATABASE must be a database name of letters, digits, '_', '-' or '$' (got '${database}')`);
  return {
    host: r.string('MARIADB_HOST', '127.0.0.1'),
    port: r.int('MARIADB_PORT', 3306, { min: 1, max: 65535 }),
    user: r.string('MARIADB_USER', 'root'),
    password: r.string('MARIADB_PASSWORD', ''),
    database,
    source: 'MARIADB_*',
  };
}

function fromUrl(r: EnvReader, raw: string): MariaDbConfig {
  const fallback: MariaDbConfig = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'openvle', source: 'DATABASE_URL' };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Never echo the value: it holds the password.
    r.problems.push('DATABASE_URL must look like mysql://user:password@host:port/database');
    return fallback;
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    r.problems.push(`DATABASE_URL must start with mysql:// or mariadb:// (got ${u.protocol}//)`);
    return fallback;
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!DB_NAME.test(database)) r.problems.push('DATABASE_URL must name a database: mysql://user:password@host:port/database');
  const port = u.port === '' ? 3306 : Number(u.port);
  if (!u.hostname) r.problems.push('DATABASE_URL must name a host: mysql://user:password@host:port/database');
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || fallback.host,
    port,
    user: u.username ? decodeURIComponent(u.username) : 'root',
    password: u.password ? decodeURIComponent(u.password) : '',
    database,
    source: 'DATABASE_URL',
  };
}

export function describeMariaDb(c: MariaDbConfig): Record<string, string | number> {
  return { source: c.source, host: c.host, port: c.port, user: c.user, password: mask(c.password), database: c.database };
}
