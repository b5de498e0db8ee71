import type { InfoSnapshot } from '../../index.js';
import type { SubTaskRow, TaskSummary } from '../tracking/store.js';

export interface DemoFrame {
  phase: string;
  info: InfoSnapshot;
  tasks: TaskSummary[];
}

function bar(percent: number, width = 20): string {
  const full = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

function cut(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text.padEnd(n);
}

/**
 * What the demo shows while it runs. On a terminal: one screen redrawn in
 * place (queues, running jobs, Tasks with progress bars). Otherwise
 * (a pipe, CI, a test): one plain line per change of a Task's status, so
 * the output reads as a log.
 */
export class DemoView {
  private drawnLines = 0;
  private readonly seen = new Map<number, string>();

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live = Boolean(out.isTTY),
  ) {}

  /** A line that stays (plain mode) or is printed above the live screen. */
  say(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
  }

  render(frame: DemoFrame): void {
    if (!this.live) {
      for (const t of [...frame.tasks].reverse()) {
        const key = `${t.status}`;
        if (this.seen.get(t.id) === key) continue;
        this.seen.set(t.id, key);
        const err = t.status === 'queued' && t.lastError ? ` (retry after: ${t.lastError})` : t.status === 'failed' && t.lastError ? ` (${t.lastError})` : '';
        this.out.write(`task ${t.id} ${t.name} [${t.queue}] ${t.status}${err}\n`);
      }
      return;
    }
    const cols = Math.max(60, this.out.columns ?? 100);
    const lines: string[] = [];
    lines.push(`── ${frame.phase} ${'─'.repeat(Math.max(0, cols - frame.phase.length - 4))}`);
    const queues = frame.info.queues.filter((q) => q.queued + q.executing + q.scheduled + q.deferred + q.finished + q.failed > 0);
    lines.push(`${'queue'.padEnd(16)}${'queued'.padStart(8)}${'running'.padStart(9)}${'waiting'.padStart(9)}${'deferred'.padStart(10)}${'done'.padStart(7)}${'failed'.padStart(8)}`);
    for (const q of queues) {
      lines.push(`${q.name.padEnd(16)}${String(q.queued).padStart(8)}${String(q.executing).padStart(9)}${String(q.scheduled).padStart(9)}${String(q.deferred).padStart(10)}${String(q.finished).padStart(7)}${String(q.failed).padStart(8)}`);
    }
    const busy = frame.info.workers.filter((w) => w.current_job);
    lines.push(`workers: ${frame.info.workers.length}, busy: ${busy.length}`);
    const shown = frame.tasks.slice(0, Math.max(5, (this.out.rows ?? 40) - lines.length - 4));
    for (const t of shown) {
      const retries = t.attempts > 1 ? ` attempt ${t.attempts}` : '';
      lines.push(`${String(t.id).padStart(4)} ${cut(t.name, 22)} ${cut(t.queue, 15)} ${bar(t.status === 'success' ? 100 : t.progress)} ${t.status}${retries}`);
    }
    this.clear();
    this.out.write(`${lines.map((l) => l.slice(0, cols)).join('\n')}\n`);
    this.drawnLines = lines.length;
  }

  /** Removes the live screen (before a plain line, and at the end). */
  clear(): void {
    if (!this.live || this.drawnLines === 0) return;
    this.out.write(`\x1b[${this.drawnLines}A\x1b[J`);
    this.drawnLines = 0;
  }
}

function seconds(a: Date, b: Date | null): string {
  return b ? `${((b.getTime() - a.getTime()) / 1000).toFixed(1)} s` : '…';
}

/** The closing table: every Task, then its SubTasks (one per attempt). */
export function summaryTable(tasks: TaskSummary[], subTasks: Map<number, SubTaskRow[]>): string[] {
  const lines: string[] = [];
  lines.push(`${'task'.padStart(4)}  ${'name'.padEnd(24)}${'queue'.padEnd(16)}${'status'.padEnd(10)}attempts`);
  for (const t of [...tasks].sort((a, b) => a.id - b.id)) {
    lines.push(`${String(t.id).padStart(4)}  ${cut(t.name, 23)} ${cut(t.queue, 15)} ${t.status.padEnd(10)}${t.attempts}`);
    for (const s of subTasks.get(t.id) ?? []) {
      const err = s.errorMessage ? `  ${s.errorMessage.split('\n')[0]!.slice(0, 70)}` : '';
      lines.push(`        #${s.attempt} ${cut(s.action, 30)} ${s.status.padEnd(8)} ${seconds(s.startedAt, s.endedAt).padStart(7)}${err}`);
    }
  }
  return lines;
}
