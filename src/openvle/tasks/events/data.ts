import type { Pool } from '../../db/pool.js';

export type EventStatus = 'planned' | 'deploying' | 'deployed' | 'deployment_failed' | 'archiving' | 'archived' | 'archive_failed';

export interface EventRow {
  id: number;
  name: string;
  shortName: string;
  environmentId: number | null;
  startDate: string;
  endDate: string | null;
  status: EventStatus;
  moodleCourseId: number | null;
  deployTaskId: number | null;
  archiveTaskId: number | null;
}

export interface Participant {
  id: number;
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  language: string;
  role: 'instructor' | 'student';
}

export interface Admin {
  id: number;
  name: string;
  email: string;
  language: string;
}

export interface EnvTemplate {
  /** vm_templates.id */
  id: number;
  vmid: number;
  name: string;
}

export interface EventVm {
  id: number;
  name: string;
  vmid: number | null;
}

type Row = Record<string, unknown>;

async function rows(pool: Pool, sql: string, params: unknown[]): Promise<Row[]> {
  const [r] = await pool.query(sql, params);
  return r as Row[];
}

const day = (v: unknown): string | null => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10));

const EVENT_COLUMNS = `id, name, short_name, environment_id, DATE_FORMAT(start_date, '%Y-%m-%d') AS start_date,
  DATE_FORMAT(end_date, '%Y-%m-%d') AS end_date, status, moodle_course_id, deploy_task_id, archive_task_id`;

function toEvent(r: Row): EventRow {
  const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    name: String(r.name),
    shortName: String(r.short_name),
    environmentId: n(r.environment_id),
    startDate: day(r.start_date)!,
    endDate: day(r.end_date),
    status: r.status as EventStatus,
    moodleCourseId: n(r.moodle_course_id),
    deployTaskId: n(r.deploy_task_id),
    archiveTaskId: n(r.archive_task_id),
  };
}

export async function getEvent(pool: Pool, id: number): Promise<EventRow | null> {
  const [r] = await rows(pool, `SELECT ${EVENT_COLUMNS} FROM events WHERE id = ?`, [id]);
  return r ? toEvent(r) : null;
}

export async function eventsWhere(pool: Pool, where: string, params: unknown[]): Promise<EventRow[]> {
  return (await rows(pool, `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where} ORDER BY id`, params)).map(toEvent);
}

export async function participants(pool: Pool, eventId: number): Promise<Participant[]> {
  const r = await rows(pool, 'SELECT id, username, email, first_name, last_name, language, role FROM event_participants WHERE event_id = ? ORDER BY id', [eventId]);
  return r.map((p) => ({
    id: Number(p.id),
    username: String(p.username),
    email: String(p.email),
    firstName: String(p.first_name),
    lastName: String(p.last_name),
    language: String(p.language),
    role: p.role as Participant['role'],
  }));
}

export async function admins(pool: Pool, eventId: number): Promise<Admin[]> {
  const r = await rows(pool, 'SELECT id, name, email, language FROM event_admins WHERE event_id = ? ORDER BY id', [eventId]);
  return r.map((a) => ({ id: Number(a.id), name: String(a.name), email: String(a.email), language: String(a.language) }));
}

/** The environment's VM templates in cloning order (the environment as it is now: deployment provisions from it). */
export async function environmentTemplates(pool: Pool, environmentId: number | null): Promise<EnvTemplate[]> {
  if (environmentId === null) return [];
  const r = await rows(
    pool,
    `SELECT t.id, t.vmid, t.name FROM environment_templates et JOIN vm_templates t ON t.id = et.template_id
     WHERE et.environment_id = ? ORDER BY et.position, t.id`,
    [environmentId],
  );
  return r.map((t) => ({ id: Number(t.id), vmid: Number(t.vmid), name: String(t.name) }));
}

export async function eventVms(pool: Pool, eventId: number): Promise<EventVm[]> {
  const r = await rows(pool, 'SELECT id, name, vmid FROM vms WHERE event_id = ? ORDER BY id', [eventId]);
  return r.map((v) => ({ id: Number(v.id), name: String(v.name), vmid: v.vmid === null ? null : Number(v.vmid) }));
}

/** The environment's Moodle template course, or null when it has none. */
export async function environmentCourse(pool: Pool, environmentId: number | null): Promise<number | null> {
  if (environmentId === null) return null;
  const [r] = await rows(pool, 'SELECT moodle_template_course_id AS c FROM environments WHERE id = ?', [environmentId]);
  return r && r.c !== null && r.c !== undefined ? Number(r.c) : null;
}

/** Whether a mail action has at least one template (an action without one sends nothing, so nothing is enqueued). */
export async function mailActionHasTemplate(pool: Pool, slug: string): Promise<boolean> {
  const r = await rows(pool, 'SELECT 1 FROM mail_templates t JOIN mail_actions a ON a.id = t.action_id WHERE a.slug = ? LIMIT 1', [slug]);
  return r.length > 0;
}

/**
 * Moves an event from one of `from` to `to`, setting the given columns too.
 * Conditional, so of two runs racing only one wins; returns whether it did.
 */
export async function transition(pool: Pool, id: number, from: EventStatus[], to: EventStatus, set: Record<string, unknown> = {}): Promise<boolean> {
  const cols = Object.keys(set);
  const [res] = await pool.query(
    `UPDATE events SET status = ?${cols.map((c) => `, ${c} = ?`).join('')} WHERE id = ? AND status IN (${from.map(() => '?').join(', ')})`,
    [to, ...cols.map((c) => set[c]), id, ...from],
  );
  return (res as { affectedRows: number }).affectedRows > 0;
}

/** The deterministic VM name of a participant's clone of a template: the event's short name (DNS-safe) and both ids. */
export function vmName(ev: EventRow, participantId: number, templateVmid: number): string {
  return `${ev.shortName.replace(/_/g, '-')}-p${participantId}-t${templateVmid}`;
}
