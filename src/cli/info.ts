/**
 * `openvle-rq info [QUEUES...]`: rq info's output, line for line, from a
 * read-only look at Redis (rq info cleans registries first; this changes
 * nothing, and leaves out of the counts what that cleaning would remove).
 */
import { Command } from 'commander';
import type { Redis } from 'ioredis';
import { keys, QUEUE_NAME_PATTERN, queueNamesFromKeys } from '../engine/keys.js';
import { action, CliError, connect, floatArg, style, withUrl } from './common.js';

interface InfoFlags {
  url?: string;
  interval?: number;
  raw?: boolean;
  onlyQueues?: boolean;
  onlyWorkers?: boolean;
  byQueue?: boolean;
  json?: boolean;
}

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

/** Reads everything `info` shows, with reads only. */
export async function snapshot(redis: Redis, queueNames: string[]): Promise<InfoSnapshot> {
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

/** Python's get_terminal_size().columns: $COLUMNS, the terminal, else 80. */
function terminalColumns(): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  return 80;
}

function getScale(x: number): number {
  for (const s of [20, 50, 100, 200, 400, 600, 800, 1000]) if (x <= s) return s;
  return x;
}

function stateSymbol(state: string): string {
  if (state === 'busy') return style('busy', 'red');
  if (state === 'idle') return style('idle', 'green');
  if (state === 'suspended') return style('suspended', 'yellow');
  return state;
}

/** Python's f'{s:<n}'. */
function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Python's str(datetime.now()): local time, microseconds unless zero. */
export function pyNow(d: Date, micros = d.getMilliseconds() * 1000): string {
  const z = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${d.getFullYear()}-${z(d.getMonth() + 1)}-${z(d.getDate())} ${z(d.getHours())}:${z(d.getMinutes())}:${z(d.getSeconds())}`;
  return micros ? `${base}.${z(micros, 6)}` : base;
}

export function queueLines(s: InfoSnapshot, raw: boolean): string[] {
  const out: string[] = [];
  const chartwidth = Math.min(20, terminalColumns() - 20);
  const maxCount = Math.max(0, ...s.queues.map((q) => q.queued));
  const ratio = chartwidth / getScale(maxCount);
  let total = 0;
  for (const q of s.queues) {
    const tail = `${q.queued}, ${q.executing} executing, ${q.finished} finished, ${q.failed} failed`;
    if (raw) out.push(`queue ${q.name} ${tail}`);
    else {
      const bars = Math.max(0, Math.trunc(ratio * q.queued));
      out.push(`${pad(q.name, 12)} ${style('|' + '█'.repeat(bars), 'green')} ${tail}`);
    }
    total += q.queued;
  }
  if (!raw) out.push(`${s.queues.length} queues, ${total} jobs total`);
  return out;
}

export function workerLines(s: InfoSnapshot, raw: boolean, byQueue: boolean): string[] {
  const out: string[] = [];
  if (!byQueue) {
    for (const w of s.workers) {
      const name = `${w.name} (${w.hostname ?? 'None'} ${w.ip_address ?? 'None'} ${w.pid ?? 'None'})`;
      const jobs = `jobs: ${w.successful_job_count} finished, ${w.failed_job_count} failed`;
      if (raw) out.push(`worker ${name} ${w.state} ${w.queues.join(', ')}. ${jobs}`);
      else out.push(`${name}: ${stateSymbol(w.state)} ${w.queues.join(', ')}. ${jobs}`);
    }
  } else {
    const maxLength = Math.max(0, ...s.queues.map((q) => q.name.length));
    for (const q of s.queues) {
      const ws = s.byQueue.get(q.name) ?? [];
      // rq sorts the styled strings; sorting by name then state is the same order.
      const str = ws.length ? ws.map((w) => `${w.name} (${stateSymbol(w.state)})`).sort().join(', ') : '–';
      out.push(`${pad(q.name + ':', maxLength + 1)} ${str}`);
    }
  }
  if (!raw) out.push(`${s.workers.length} workers, ${s.queues.length} queues`);
  return out;
}

/** Everything rq info prints for these flags. */
export function render(s: InfoSnapshot, flags: InfoFlags): string[] {
  const raw = Boolean(flags.raw);
  const byQueue = Boolean(flags.byQueue);
  if (flags.onlyQueues) return queueLines(s, raw);
  if (flags.onlyWorkers) return workerLines(s, raw, byQueue);
  const out = queueLines(s, raw);
  if (!raw) out.push('');
  out.push(...workerLines(s, raw, byQueue));
  if (!raw) out.push('', `Updated: ${pyNow(s.at)}`);
  return out;
}

export function toJson(s: InfoSnapshot, flags: InfoFlags): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  if (!flags.onlyWorkers) {
    doc.queues = s.queues;
    doc.total_jobs = s.queues.reduce((a, q) => a + q.queued, 0);
  }
  if (!flags.onlyQueues) doc.workers = s.workers;
  doc.suspended = s.suspended;
  doc.updated_at = s.at.toISOString();
  return doc;
}

export function infoCommand(): Command {
  const cmd = new Command('info')
    .summary('show queues and workers')
    .description('Shows queues and workers in rq info\'s format. Only reads: unlike rq info, it cleans nothing up.')
    .argument('[queues...]', 'queues to show (default: every queue in rq:queues)')
    .option('-i, --interval <seconds>', "update every N seconds (default: don't poll)", floatArg(0, true))
    .option('-r, --raw', 'print only the raw numbers, no bar charts')
    .option('-Q, --only-queues', 'show only queue info')
    .option('-W, --only-workers', 'show only worker info')
    .option('-R, --by-queue', 'show workers by queue')
    .option('--json', 'print one JSON document (with scheduled, deferred and canceled counts too)');
  withUrl(cmd);
  return cmd.action(action(runInfo));
}

async function runInfo(queueArgs: string[], flags: InfoFlags): Promise<number> {
  for (const q of queueArgs) {
    if (!QUEUE_NAME_PATTERN.test(q)) throw new CliError(`Invalid queue name '${q}': use letters, digits, '_', '-' and '.'`);
  }
  const redis = await connect(flags.url);
  const once = async () => {
    const s = await snapshot(redis, queueArgs);
    if (flags.json) process.stdout.write(JSON.stringify(toJson(s, flags)) + '\n');
    else process.stdout.write(render(s, flags).join('\n') + '\n');
  };
  if (!flags.interval) {
    await once();
    return 0;
  }
  let stop = false;
  let wake: (() => void) | undefined;
  const onSig = () => {
    stop = true;
    wake?.();
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  while (!stop) {
    // click.clear(): only on a terminal.
    if (process.stdout.isTTY && !flags.json) process.stdout.write('\x1b[2J\x1b[1;1H');
    await once();
    await new Promise<void>((r) => {
      const t = setTimeout(r, flags.interval! * 1000);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
  if (!flags.json) process.stdout.write('\n');
  return 0;
}
