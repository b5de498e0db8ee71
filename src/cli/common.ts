/**
 * Shared pieces of the openvle-rq commands: the -u/--url option, Redis
 * connections that fail fast with one line, rq-style output helpers, and
 * the one-line error exit every command ends with on failure.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Redis } from 'ioredis';
import {
  connectOnce,
  consoleLogger,
  createRedis,
  defaultRedisUrl,
  parseLogLevel,
  QUEUE_NAME_PATTERN,
  redactUrl,
  redisOptionsFromUrl,
  type Logger,
  type LogLevel,
} from '../index.js';

/** An error whose message is printed as is, on one line, before exiting with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** First line of an error's message, for the one-line exit. */
export function oneLine(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const lines = raw.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.join(' ').replace(/\s+/g, ' ').slice(0, 2000) || (err instanceof Error ? err.name : 'unknown error');
}

/** Prints `error: <message>` on stderr and exits. With OPENVLE_RQ_DEBUG set, the stack too. */
export function die(err: unknown, code?: number): never {
  const c = code ?? (err instanceof CliError ? err.code : 1);
  // An error that lists several problems (a configuration's bad variables) gets one line each.
  const problems = (err as { problems?: unknown } | null)?.problems;
  if (Array.isArray(problems) && problems.length > 0 && problems.every((p) => typeof p === 'string')) {
    for (const p of problems) process.stderr.write(`error: ${oneLine(p)}\n`);
  } else process.stderr.write(`error: ${oneLine(err)}\n`);
  if (process.env.OPENVLE_RQ_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(c);
}

const URL_HELP =
  'Redis URL: redis://[user:password@]host:port/db, rediss:// for TLS, ' +
  'redis+sentinel://[user:password@]host:port[,host:port...]/master[/db] for Sentinel ' +
  '(default: $RQ_REDIS_URL, then $REDIS_URL, then redis://127.0.0.1:6379)';

/** Adds -u/--url to a command. */
export function withUrl(cmd: Command): Command {
  return cmd.addOption(new Option('-u, --url <url>', URL_HELP));
}

/** The URL to use, validated (a bad URL is a one-line error). */
export async function resolveUrl(url: string | undefined): Promise<string> {
  const u = url ?? defaultRedisUrl();
  try {
    redisOptionsFromUrl(u);
  } catch (err) {
    throw new CliError(oneLine(err));
  }
  return u;
}

const open = new Set<Redis>();

/**
 * A connection for a short command: one attempt with a short timeout, so an
 * unreachable Redis (or a refused password) is a one-line error at once,
 * naming the cause (the engine's connectOnce).
 */
export async function connect(url: string | undefined, timeoutMs = 3000): Promise<Redis> {
  const u = await resolveUrl(url);
  let redis: Redis;
  try {
    redis = await connectOnce(u, timeoutMs);
  } catch (err) {
    throw new CliError(oneLine(err));
  }
  open.add(redis);
  return redis;
}

/**
 * A connection for a long-running command (worker, cron): checked once like
 * connect(), then one that reconnects with back-off and reports outages as
 * single log lines.
 */
export async function connectLasting(url: string | undefined, log: Logger): Promise<Redis> {
  const u = await resolveUrl(url);
  await release(await connect(u));
  const redis = createRedis(u);
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warning(`Redis connection error (${redactUrl(u)}): ${oneLine(err)}; reconnecting`);
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info(`Redis connection to ${redactUrl(u)} is back`);
    down = false;
  });
  open.add(redis);
  return redis;
}

/** Closes a connection a command needed only for a moment (a check before it starts its real work). */
export async function release(redis: Redis): Promise<void> {
  open.delete(redis);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/** Closes every connection the command opened. */
export async function closeAll(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(
    all.map(async (r) => {
      try {
        if (r.status === 'ready') await r.quit();
        else r.disconnect();
      } catch {
        r.disconnect();
      }
    }),
  );
}

/** Runs a command's body; any error ends the process with one line on stderr. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number | void;
    try {
      code = await fn(...args);
    } catch (err) {
      await closeAll().catch(() => {});
      die(err);
    }
    await closeAll().catch(() => {});
    process.exitCode = code ?? 0;
  };
}

// ---- option parsers (commander calls them; InvalidArgumentError becomes a one-line error) ----

export function intArg(min: number, what = 'an integer'): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected ${what} >= ${min}`);
    }
    return n;
  };
}

export function floatArg(min: number, inclusive = false): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || (!inclusive && n === min)) {
      throw new InvalidArgumentError(`expected a number ${inclusive ? '>=' : '>'} ${min}`);
    }
    return n;
  };
}

export function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** rq's logging levels (DEBUG, INFO, WARNING, ERROR, CRITICAL), any case. */
export function logLevelArg(v: string): LogLevel {
  if (v.toLowerCase() === 'critical') return 'error';
  try {
    return parseLogLevel(v);
  } catch (err) {
    throw new InvalidArgumentError(oneLine(err));
  }
}

/** The queue name a command was given, or a one-line error. */
export function queueName(q: string): string {
  if (!QUEUE_NAME_PATTERN.test(q)) throw new CliError(`Invalid queue name '${q}': use letters, digits, '_', '-' and '.'`);
  return q;
}

export interface LoggingFlags {
  loggingLevel?: LogLevel;
  verbose?: boolean;
  quiet?: boolean;
}

/** Adds rq's --logging-level (with -l when `short`), -v/--verbose and -q/--quiet. */
export function withLogging(cmd: Command, opts: { short?: boolean } = {}): Command {
  return cmd
    .option(`${opts.short ? '-l, ' : ''}--logging-level <level>`, 'DEBUG, INFO, WARNING or ERROR (default: INFO)', logLevelArg)
    .option('-v, --verbose', 'show more output (DEBUG)')
    .option('-q, --quiet', 'show less output (WARNING)');
}

/** The logger the flags of withLogging ask for. */
export function loggerFromFlags(flags: LoggingFlags): Logger {
  if (flags.verbose && flags.quiet) throw new CliError('Flags --verbose and --quiet are mutually exclusive.');
  return cliLogger(flags.verbose ? 'debug' : flags.quiet ? 'warning' : (flags.loggingLevel ?? 'info'));
}

/**
 * SIGINT and SIGTERM for a long-running command: the first asks for a warm
 * stop; the second a cold one (when the command has one); one more exits at once.
 */
export function onShutdownSignals(warm: (sig: NodeJS.Signals) => void, cold?: (sig: NodeJS.Signals) => void): void {
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) warm(sig);
    else if (signals === 2 && cold) cold(sig);
    else {
      process.stderr.write('error: forced exit\n');
      process.exit(1);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * rq's log handlers: info and debug to stdout, warnings and errors to
 * stderr, '%H:%M:%S message'.
 */
export function cliLogger(level: LogLevel): Logger {
  const out = consoleLogger(level, process.stdout);
  const err = consoleLogger(level, process.stderr);
  return { debug: out.debug, info: out.info, warning: err.warning, error: err.error };
}

/** click.style's colours, only on a terminal (and not with NO_COLOR). */
export function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}
const CODES = { red: 31, green: 32, yellow: 33, blue: 34 } as const;
export function style(text: string, color: keyof typeof CODES): string {
  return useColor() ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}
