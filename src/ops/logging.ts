/**
 * Structured logs: one JSON object per line (pino) for the containers'
 * log collectors, or a short human-readable line on a terminal. The
 * engine's own lines come in through its Logger interface; the job lines
 * (start and end, with worker, queue, job id, task id, attempt, duration
 * and outcome) are built from the Worker's events, so the engine needs no
 * change for them.
 */
import { Writable } from 'node:stream';
import { pino, type Logger as Pino } from 'pino';
import type { Job, Logger, LogLevel, Outcome, Worker } from '../index.js';
import { redactSecrets } from '../openvle/clients/failure.js';
import { taskIdFromMeta } from '../openvle/tracking/attempt.js';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Keys whose values pino replaces wherever they appear in a logged object
 * (one level deep, and under kwargs/config). Job lines carry identifiers
 * only; this is the net under that rule.
 */
export const REDACT_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'tokenValue',
  'token_value',
  'wstoken',
  'authorization',
  'Authorization',
  'apiToken',
  'api_token',
  'smtp_password',
  'guacamole_password',
];
export const REDACT_PATHS = [
  ...REDACT_KEYS,
  ...REDACT_KEYS.map((k) => `*.${k}`),
  ...REDACT_KEYS.map((k) => `kwargs.*.${k}`),
  ...REDACT_KEYS.map((k) => `config.*.${k}`),
];

// Environment variables that hold secrets: their values are replaced in
// every message, wherever they appear (an error text quoting a URL, say).
const SECRET_VARIABLE = /(PASSWORD|PASSWD|SECRET|TOKEN(_VALUE)?$|_KEY$)/i;

/** The values of the secret-holding variables of `env`, for redaction. */
export function secretValues(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([k, v]) => SECRET_VARIABLE.test(k) && typeof v === 'string' && v.trim().length >= 4)
    .map(([, v]) => v!.trim().replace(/^"(.*)"$/, '$1'));
}

/**
 * `--log-format`: json or pretty. rq's option of that name takes a Python
 * logging format string; one is refused with a line saying what to use.
 */
export function parseLogFormat(value: string): LogFormat {
  const v = value.trim().toLowerCase();
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new TypeError(`--log-format must be json or pretty (got '${value}'); Python logging format strings are not supported`);
}

/** pretty on a terminal, json otherwise. */
export function defaultLogFormat(stream: NodeJS.WritableStream = process.stderr): LogFormat {
  return (stream as { isTTY?: boolean }).isTTY ? 'pretty' : 'json';
}

const PINO_LEVEL: Record<LogLevel, string> = { debug: 'debug', info: 'info', warning: 'warn', error: 'error' };

export interface StructuredLogOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; default stderr (synchronously, so no line is lost at exit). */
  stream?: NodeJS.WritableStream;
  /** Fields on every line (process role, worker name). */
  base?: Record<string, unknown>;
  /** Secret values to replace in messages; default: those of process.env. */
  secrets?: string[];
}

/** A pino logger with OpenVLE's redaction: the secrets never reach the stream. */
export function createStructuredLogger(opts: StructuredLogOptions = {}): Pino {
  const format = opts.format ?? defaultLogFormat(opts.stream);
  const out = opts.stream ?? pino.destination({ dest: 2, sync: true });
  const secrets = opts.secrets ?? secretValues(process.env);
  const dest = format === 'pretty' ? prettyStream(out as NodeJS.WritableStream) : out;
  return pino(
    {
      level: PINO_LEVEL[opts.level ?? 'info'],
      base: { pid: process.pid, ...(opts.base ?? {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '***' },
      hooks: {
        // Messages and top-level string fields are free text (error lines,
        // URLs): known secret values and token/password patterns are masked
        // before pino sees them.
        logMethod(args, method) {
          const redacted = args.map((a) => redactValue(a, secrets));
          return method.apply(this, redacted as Parameters<typeof method>);
        },
      },
    },
    dest as pino.DestinationStream,
  );
}

function redactValue(a: unknown, secrets: string[]): unknown {
  if (typeof a === 'string') return redactSecrets(a, secrets);
  if (a && typeof a === 'object' && !Array.isArray(a) && !(a instanceof Error)) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) o[k] = typeof v === 'string' ? redactSecrets(v, secrets) : v;
    return o;
  }
  return a;
}

/** The engine's Logger on top of pino: its lines carry `component: engine`. */
export function engineLogger(log: Pino): Logger {
  const child = log.child({ component: 'engine' });
  return {
    debug: (m) => child.debug(m),
    info: (m) => child.info(m),
    warning: (m) => child.warn(m),
    error: (m) => child.error(m),
    enabled: (l) => child.isLevelEnabled(l === 'warning' ? 'warn' : l),
  };
}

const LEVEL_NAMES: Record<string, string> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component']);

/** One JSON line as a terminal line: `12:34:56 INFO  message key=value ...`. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'string' ? o.time.slice(11, 19) : new Date().toISOString().slice(11, 19);
  const level = (LEVEL_NAMES[String(o.level)] ?? String(o.level)).padEnd(5);
  const fields = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return `${time} ${level} ${prettyMessage(String(o.msg ?? ''))}${fields.length ? '  ' + fields.join(' ') : ''}`;
}

const TRACEBACK_HEADER = 'Traceback (most recent call last):';

/**
 * A message as one terminal line, so a record never spans lines there. A
 * traceback (Python-ordered, the exception line last) is shown as the text
 * before it and its exception line (the last unindented one; frames and
 * their source lines are indented): the frames stay in the JSON format's
 * msg. Other line breaks are written as \n.
 */
export function prettyMessage(msg: string): string {
  const lines = msg.split(/\r?\n/);
  if (lines.length === 1) return msg;
  const tb = lines.findIndex((l) => l.trim() === TRACEBACK_HEADER);
  if (tb >= 0) {
    const head = lines.slice(0, tb).join(' ').trim();
    const exc = lines.slice(tb + 1).filter((l) => l.trim() && !/^\s/.test(l)).at(-1)?.trim() ?? '';
    return [head, exc].filter(Boolean).join(' ');
  }
  return msg.replace(/\r?\n/g, '\\n');
}

/** A stream that turns pino's JSON lines into prettyLine lines on `out`. */
export function prettyStream(out: NodeJS.WritableStream): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = rest + chunk.toString();
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      const pretty = lines.filter(Boolean).map((l) => prettyLine(l) + '\n').join('');
      if (pretty) out.write(pretty);
      done();
    },
  });
}

/** What the job lines need to know beyond the job itself. */
export interface JobLogOptions {
  /**
   * The attempt number of the execution starting (1 for the first), when
   * it can be told; see attemptFromRetries.
   */
  attempt?: (job: Job) => number | undefined;
  /** Function names that are registered tasks; others are logged as is but flagged. */
  isTask?: (name: string) => boolean;
}

/**
 * The attempt an execution is, from the retries its job has left: RQ keeps
 * no attempt count, but a job enqueued with `max` retries has `max` left on
 * its first attempt and one fewer on each next (lua fail_job). Without
 * retries_left (no retry policy yet) it is the first attempt. Undefined
 * when the policy's max is unknown.
 */
export function attemptFromRetries(job: Job, maxRetries: number | undefined): number | undefined {
  const left = job.retriesLeft;
  if (left === null) return 1;
  if (maxRetries === undefined) return undefined;
  return Math.max(1, maxRetries - left + 1);
}

interface Started {
  at: number;
  attempt: number | undefined;
}

/**
 * Logs one line per job start and end from the worker's events:
 * `{event: job.started|job.finished|job.failed|job.retried|job.recovered,
 * worker, queue, job_id, task, task_id, attempt, duration_ms, outcome}`.
 * Returns a function that detaches it.
 */
export function attachJobLog(worker: Worker, log: Pino, opts: JobLogOptions = {}): () => void {
  const started = new Map<Job, Started>();
  const base = (job: Job) => {
    let task: string | undefined;
    try {
      task = job.funcName;
    } catch {
      task = undefined; // a malformed payload: the failure line says so
    }
    return {
      worker: worker.name,
      queue: job.origin,
      job_id: job.id,
      task,
      task_id: taskIdFromMeta(job.meta) ?? null,
    };
  };
  const onStarted = (job: Job) => {
    const attempt = opts.attempt?.(job);
    started.set(job, { at: performance.now(), attempt });
    log.info({ event: 'job.started', ...base(job), attempt: attempt ?? null }, `${job.origin}: ${job.id} started`);
  };
  const end = (job: Job) => {
    const s = started.get(job);
    started.delete(job);
    return {
      attempt: s?.attempt ?? null,
      duration_ms: s ? Math.round((performance.now() - s.at) * 10) / 10 : null,
    };
  };
  const onFinished = (job: Job, _value: unknown, outcome: Outcome = 'finished') => {
    if (outcome === 'stale') {
      log.warn({ event: 'job.stale', ...base(job), ...end(job), outcome }, `${job.origin}: ${job.id} finished after being recovered as abandoned; result dropped`);
    } else log.info({ event: 'job.finished', ...base(job), ...end(job), outcome: 'finished' }, `${job.origin}: ${job.id} finished`);
  };
  const onFailed = (job: Job, error: string, outcome: Outcome) => {
    const retry = outcome === 'retried' || outcome === 'scheduled';
    const firstLine = error.split('\n').find((l) => l.trim()) ?? '';
    const fields = { event: retry ? 'job.retried' : 'job.failed', ...base(job), ...end(job), outcome, error: firstLine.slice(0, 500) };
    if (retry) log.warn(fields, `${job.origin}: ${job.id} failed, retry ${outcome}`);
    else log.error(fields, `${job.origin}: ${job.id} ${outcome === 'stopped' ? 'stopped' : 'failed'}`);
  };
  const onRecovered = (jobId: string, outcome: string) => {
    log.warn({ event: 'job.recovered', worker: worker.name, job_id: jobId, outcome }, `${jobId}: abandoned execution recovered (${outcome})`);
  };
  worker.on('job-started', onStarted);
  worker.on('job-finished', onFinished);
  worker.on('job-failed', onFailed);
  worker.on('job-recovered', onRecovered);
  return () => {
    worker.off('job-started', onStarted);
    worker.off('job-finished', onFinished);
    worker.off('job-failed', onFailed);
    worker.off('job-recovered', onRecovered);
  };
}
