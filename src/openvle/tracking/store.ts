import type { Pool } from '../db/pool.js';
import { clip, redactSecrets } from '../clients/failure.js';

export type TaskStatus = 'queued' | 'running' | 'success' | 'failed' | 'canceled';
export type SubTaskStatus = 'processing' | 'success' | 'error';

export interface TaskRow {
  id: number;
  name: string;
  type: string;
  queue: string;
  jobId: string | null;
  status: TaskStatus;
  progress: number;
  eventId: number | null;
  createdBy: number | null;
  result: unknown;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SubTaskRow {
  id: number;
  taskId: number;
  attempt: number;
  action: string;
  status: SubTaskStatus;
  errorMessage: string | null;
  worker: string;
  startedAt: Date;
  endedAt: Date | null;
}

export interface TaskSummary extends TaskRow {
  /** SubTasks so far (one per attempt). */
  attempts: number;
  /** error_message of the latest SubTask that ended in error. */
  lastError: string | null;
}

export interface NewTask {
  name: string;
  type: string;
  queue: string;
  jobId?: string | null;
  eventId?: number | null;
  createdBy?: number | null;
  status?: TaskStatus;
}

// TEXT holds 65,535 bytes; clip well below in characters (utf8mb4 is up to 4 bytes each).
const TEXT_CHARS = 16000;
const LINE_CHARS = 1000;

/** Cut to a VARCHAR's length (clip() would add a note and overflow it). */
function cut(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

/** Error text as stored: secrets redacted, cut to fit TEXT. */
export function storedError(text: string): string {
  return clip(redactSecrets(text), TEXT_CHARS);
}

/** The first non-empty line of an error text, for a SubTask's error_message. */
export function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return clip(redactSecrets(line.trim()), LINE_CHARS);
}

type Row = Record<string, unknown>;

/** Conditions on a Task status write; unmet, the write changes nothing and returns false. */
export interface StatusGuard {
  /** Only while no later attempt than this one has a SubTask (a late report never overrides a newer attempt). */
  onlyIfLatest?: number;
  /** Only from these statuses. */
  onlyFrom?: TaskStatus[];
}

function toTask(r: Row): TaskRow {
  let result: unknown = r.result ?? null;
  // MariaDB's JSON is LONGTEXT: mysql2 hands it back as a string.
  if (typeof result === 'string') {
    try {
      result = JSON.parse(result);
    } catch {
      /* keep the text */
    }
  }
  return {
    id: Number(r.id),
    name: String(r.name),
    type: String(r.type),
    queue: String(r.queue),
    jobId: (r.job_id as string | null) ?? null,
    status: r.status as TaskStatus,
    progress: Number(r.progress),
    eventId: r.event_id == null ? null : Number(r.event_id),
    createdBy: r.created_by == null ? null : Number(r.created_by),
    result,
    error: (r.error as string | null) ?? null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

function toSubTask(r: Row): SubTaskRow {
  return {
    id: Number(r.id),
    taskId: Number(r.task_id),
    attempt: Number(r.attempt),
    action: String(r.action),
    status: r.status as SubTaskStatus,
    errorMessage: (r.error_message as string | null) ?? null,
    worker: String(r.worker),
    startedAt: r.started_at as Date,
    endedAt: (r.ended_at as Date | null) ?? null,
  };
}

/**
 * The Task and SubTask rows (migration 1), shared with the Python backend.
 * Writes that follow a job's outcome can be made conditional on the
 * attempt still being the latest, so that a late write about attempt n
 * never overrides attempt n+1 (see `onlyIfLatest`).
 */
export class TaskStore {
  constructor(readonly pool: Pool) {}

  private async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    const [rows] = await this.pool.query(sql, params);
    return rows as Row[];
  }

  private async exec(sql: string, params: unknown[] = []): Promise<{ affectedRows: number; insertId: number }> {
    const [res] = await this.pool.query(sql, params);
    return res as { affectedRows: number; insertId: number };
  }

  /**
   * Creates a Task, or returns the one that already has this job id (a
   * worker that died between creating the row and writing the job's meta
   * finds its row again instead of making a second).
   */
  async createTask(t: NewTask): Promise<number> {
    const res = await this.exec(
      `INSERT INTO tasks (name, type, queue, job_id, status, event_id, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)`,
      [cut(t.name, 255), cut(t.type, 255), cut(t.queue, 64), t.jobId ?? null, t.status ?? 'queued', t.eventId ?? null, t.createdBy ?? null],
    );
    return Number(res.insertId);
  }

  async getTask(id: number): Promise<TaskRow | null> {
    const [r] = await this.rows('SELECT * FROM tasks WHERE id = ?', [id]);
    return r ? toTask(r) : null;
  }

  async findByJobId(jobId: string): Promise<TaskRow | null> {
    const [r] = await this.rows('SELECT * FROM tasks WHERE job_id = ?', [jobId]);
    return r ? toTask(r) : null;
  }

  /** Links a Task (made by the backend before it enqueued) to its job. */
  async setJobId(id: number, jobId: string): Promise<void> {
    await this.exec('UPDATE tasks SET job_id = ? WHERE id = ?', [jobId, id]);
  }

  async setRunning(id: number): Promise<void> {
    await this.exec("UPDATE tasks SET status = 'running' WHERE id = ?", [id]);
  }

  /** Back to queued (a retry waits, or the Task is retried by hand). */
  async setQueued(id: number, opts: StatusGuard & { error?: string; resetProgress?: boolean } = {}): Promise<boolean> {
    return this.setStatus(id, 'queued', { ...opts, progress: opts.resetProgress ? 0 : undefined });
  }

  async setSuccess(id: number, result: unknown, opts: StatusGuard & { keepProgress?: boolean } = {}): Promise<boolean> {
    let json: string | null;
    try {
      json = result === undefined ? null : JSON.stringify(result) ?? null;
    } catch {
      // A handler's result that is not JSON (a cycle, a BigInt) must not leave the Task running.
      json = JSON.stringify({ unserializable: String(result) });
    }
    return this.setStatus(id, 'success', { ...opts, result: json, progress: opts.keepProgress ? undefined : 100, clearError: true });
  }

  async setFailed(id: number, error: string, opts: StatusGuard = {}): Promise<boolean> {
    return this.setStatus(id, 'failed', { ...opts, error });
  }

  async setCanceled(id: number, error?: string, opts: StatusGuard = {}): Promise<boolean> {
    return this.setStatus(id, 'canceled', { ...opts, error });
  }

  private async setStatus(
    id: number,
    status: TaskStatus,
    o: StatusGuard & { error?: string; result?: string | null; progress?: number; clearError?: boolean },
  ): Promise<boolean> {
    const sets = ['status = ?'];
    const params: unknown[] = [status];
    if (o.error !== undefined) sets.push('error = ?'), params.push(storedError(o.error));
    else if (o.clearError) sets.push('error = NULL');
    if (o.result !== undefined) sets.push('result = ?'), params.push(o.result);
    if (o.progress !== undefined) sets.push('progress = ?'), params.push(o.progress);
    let where = 'id = ?';
    params.push(id);
    if (o.onlyIfLatest !== undefined) {
      where += ' AND COALESCE((SELECT MAX(s.attempt) FROM sub_tasks s WHERE s.task_id = ?), 0) <= ?';
      params.push(id, o.onlyIfLatest);
    }
    if (o.onlyFrom?.length) {
      where += ` AND status IN (${o.onlyFrom.map(() => '?').join(', ')})`;
      params.push(...o.onlyFrom);
    }
    const res = await this.exec(`UPDATE tasks SET ${sets.join(', ')} WHERE ${where}`, params);
    return res.affectedRows > 0;
  }

  async setProgress(id: number, percent: number): Promise<void> {
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    await this.exec('UPDATE tasks SET progress = ? WHERE id = ?', [p, id]);
  }

  /**
   * A graph parent's progress from its steps: the job ids its result lists
   * (`jobs`, and `finish`, the finishing job, counted as one more step),
   * ended ones (success/failed/canceled) over all. Never lowers progress
   * (two steps ending at once may compute in either order); a result
   * without `jobs` (the parent skipped, or its finishing job already wrote
   * the verdict) means nothing left to follow: 100.
   */
  async followSteps(parentId: number): Promise<void> {
    const parent = await this.getTask(parentId);
    if (!parent || parent.status !== 'success') return;
    const r = parent.result as { jobs?: unknown; finish?: unknown } | null;
    const ids = Array.isArray(r?.jobs) ? r.jobs.filter((j): j is string => typeof j === 'string') : null;
    if (ids === null) {
      await this.exec('UPDATE tasks SET progress = 100 WHERE id = ?', [parentId]);
      return;
    }
    if (typeof r?.finish === 'string') ids.push(r.finish);
    if (ids.length === 0) return;
    await this.exec(
      `UPDATE tasks SET progress = GREATEST(progress, (
         SELECT FLOOR(100 * COUNT(*) / ?) FROM tasks s WHERE s.job_id IN (${ids.map(() => '?').join(', ')}) AND s.status IN ('success', 'failed', 'canceled')))
       WHERE id = ? AND status = 'success'`,
      [ids.length, ...ids, parentId],
    );
  }

  /**
   * Starts the next attempt's SubTask (`processing`), numbered one past the
   * Task's highest attempt so far.
   */
  async startSubTask(taskId: number, action: string, worker: string): Promise<SubTaskRow> {
    for (let tries = 0; ; tries++) {
      try {
        const res = await this.exec(
          `INSERT INTO sub_tasks (task_id, attempt, action, status, worker)
           SELECT ?, COALESCE(MAX(attempt), 0) + 1, ?, 'processing', ? FROM sub_tasks WHERE task_id = ?`,
          [taskId, cut(action, 255), cut(worker, 255), taskId],
        );
        const [r] = await this.rows('SELECT * FROM sub_tasks WHERE id = ?', [res.insertId]);
        return toSubTask(r!);
      } catch (err) {
        // Two starts at once for one Task (a recovered attempt still running somewhere): take the next number.
        // MariaDB also answers ER_AUTOINC_READ_FAILED (1467) to this INSERT ... SELECT when
        // concurrent inserts into sub_tasks collide on the auto-increment lock: trying again succeeds.
        const code = (err as { code?: string }).code;
        if ((code !== 'ER_DUP_ENTRY' && code !== 'ER_AUTOINC_READ_FAILED') || tries >= 3) throw err;
      }
    }
  }

  /**
   * Ends a SubTask (at `endedAt`, default now); its outcome is authoritative,
   * whatever a reconciler wrote before. With `onlyProcessing` it leaves a
   * row someone else ended (a recovery) as it is. True when the row changed.
   */
  async endSubTask(id: number, status: 'success' | 'error', errorMessage?: string, endedAt?: Date, opts: { onlyProcessing?: boolean } = {}): Promise<boolean> {
    const res = await this.exec(
      `UPDATE sub_tasks SET status = ?, error_message = ?, ended_at = COALESCE(?, CURRENT_TIMESTAMP(3)) WHERE id = ?${opts.onlyProcessing ? " AND status = 'processing'" : ''}`,
      [status, errorMessage === undefined ? null : firstLine(errorMessage), endedAt ?? null, id],
    );
    return res.affectedRows > 0;
  }

  /** Ends one SubTask as error if it is still processing (nobody reported its end). */
  async abandonSubTask(id: number, message: string): Promise<boolean> {
    const res = await this.exec(
      "UPDATE sub_tasks SET status = 'error', error_message = ?, ended_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND status = 'processing'",
      [firstLine(message), id],
    );
    return res.affectedRows > 0;
  }

  /** Ends every `processing` SubTask of a Task as error (attempts nobody will report on). Returns how many. */
  async endProcessingSubTasks(taskId: number, message: string): Promise<number> {
    const res = await this.exec(
      "UPDATE sub_tasks SET status = 'error', error_message = ?, ended_at = CURRENT_TIMESTAMP(3) WHERE task_id = ? AND status = 'processing'",
      [firstLine(message), taskId],
    );
    return res.affectedRows;
  }

  async subTasks(taskId: number): Promise<SubTaskRow[]> {
    return (await this.rows('SELECT * FROM sub_tasks WHERE task_id = ? ORDER BY attempt', [taskId])).map(toSubTask);
  }

  /** Recent Tasks, newest first, with their attempt count and last error. */
  async listTasks(f: { status?: TaskStatus; queue?: string; limit?: number } = {}): Promise<TaskSummary[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.status) where.push('t.status = ?'), params.push(f.status);
    if (f.queue) where.push('t.queue = ?'), params.push(f.queue);
    params.push(Math.max(1, Math.min(f.limit ?? 50, 1000)));
    const rows = await this.rows(
      `SELECT t.*,
         (SELECT COUNT(*) FROM sub_tasks s WHERE s.task_id = t.id) AS attempts,
         (SELECT s.error_message FROM sub_tasks s WHERE s.task_id = t.id AND s.status = 'error' ORDER BY s.attempt DESC LIMIT 1) AS last_error
       FROM tasks t ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY t.id DESC LIMIT ?`,
      params,
    );
    return rows.map((r) => ({ ...toTask(r), attempts: Number(r.attempts), lastError: (r.last_error as string | null) ?? null }));
  }

  /** SubTasks still `processing` that started more than `olderThan` seconds ago, with their Task's job. */
  async staleProcessing(olderThan: number, limit = 500): Promise<Array<SubTaskRow & { jobId: string | null }>> {
    const rows = await this.rows(
      `SELECT s.*, t.job_id FROM sub_tasks s JOIN tasks t ON t.id = s.task_id
       WHERE s.status = 'processing' AND s.started_at < CURRENT_TIMESTAMP(3) - INTERVAL ? SECOND
       ORDER BY s.id LIMIT ?`,
      [olderThan, limit],
    );
    return rows.map((r) => ({ ...toSubTask(r), jobId: (r.job_id as string | null) ?? null }));
  }

  /** Tasks not yet ended (queued/running) with a job, unchanged for `olderThan` seconds, by id from `afterId`. */
  async openTasks(olderThan: number, afterId: number, limit: number): Promise<TaskRow[]> {
    const rows = await this.rows(
      `SELECT * FROM tasks WHERE status IN ('queued','running') AND job_id IS NOT NULL AND id > ?
         AND updated_at < CURRENT_TIMESTAMP(3) - INTERVAL ? SECOND
       ORDER BY id LIMIT ?`,
      [afterId, olderThan, limit],
    );
    return rows.map(toTask);
  }

  /** Whether the Task has a SubTask still processing. */
  async hasProcessing(taskId: number): Promise<boolean> {
    const [r] = await this.rows("SELECT 1 AS x FROM sub_tasks WHERE task_id = ? AND status = 'processing' LIMIT 1", [taskId]);
    return r !== undefined;
  }
}
