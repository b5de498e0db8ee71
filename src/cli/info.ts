/**
 * `openvle-rq info [QUEUES...]`: rq info's output, line for line, from a
 * read-only look at Redis (rq info cleans registries first; this changes
 * nothing, and leaves out of the counts what that cleaning would remove).
 */
import { Command } from 'commander';
import { infoSnapshot, type InfoSnapshot } from '../index.js';
import { action, connect, floatArg, queueName, style, withUrl } from './common.js';

interface InfoFlags {
  url?: string;
  interval?: number;
  raw?: boolean;
  onlyQueues?: boolean;
  onlyWorkers?: boolean;
  byQueue?: boolean;
  json?: boolean;
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
  queueArgs.forEach(queueName);
  const redis = await connect(flags.url);
  const once = async () => {
    const s = await infoSnapshot(redis, queueArgs);
    if (flags.json) process.stdout.write(JSON.stringify(toJson(s, flags)) + '\n');
    else {
      // No lines, no output: rq prints nothing (not an empty line) for -r -W with no workers.
      const lines = render(s, flags);
      if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
    }
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
