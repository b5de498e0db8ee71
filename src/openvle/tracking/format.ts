import type { TaskSummary } from './store.js';

/** "42s", "5m", "3h", "2d": how long ago, for a table column. */
export function age(from: Date, now: Date = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const COLUMNS = ['ID', 'NAME', 'QUEUE', 'STATUS', 'PROGRESS', 'ATTEMPTS', 'LAST ERROR', 'AGE'] as const;
const ERROR_WIDTH = 60;

/** The table `openvle-rq tasks` prints: one row per Task, columns padded, the last error cut to one short line. */
export function formatTaskTable(rows: TaskSummary[], now: Date = new Date()): string {
  const cells = rows.map((r) => {
    const err = (r.lastError ?? '').replace(/\s+/g, ' ');
    return [
      String(r.id),
      r.name,
      r.queue,
      r.status,
      `${r.progress}%`,
      String(r.attempts),
      err.length > ERROR_WIDTH ? `${err.slice(0, ERROR_WIDTH - 1)}…` : err,
      age(r.createdAt, now),
    ];
  });
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(COLUMNS), ...cells.map(line)].join('\n');
}

/** The same rows for `--json`: plain values, dates as ISO strings. */
export function tasksAsJson(rows: TaskSummary[]): Array<Record<string, unknown>> {
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    type: r.type,
    queue: r.queue,
    job_id: r.jobId,
    status: r.status,
    progress: r.progress,
    attempts: r.attempts,
    last_error: r.lastError,
    event_id: r.eventId,
    created_by: r.createdBy,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  }));
}
