// Seed rows for the mail, Guacamole and Moodle task tests: what the
// backend would have written before it enqueues those tasks.
import type { ResultSetHeader } from 'mysql2';
import type { Pool } from '../../../src/openvle/db/pool.js';

async function insert(pool: Pool, sql: string, values: unknown[]): Promise<number> {
  const [res] = await pool.query<ResultSetHeader>(sql, values);
  return res.insertId;
}

let seq = 0;
/** A short name no other seeded event has (4–8 of a-z0-9_-). */
export function shortName(): string {
  return `ev${(++seq).toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`.slice(0, 8);
}

export async function addEnvironment(pool: Pool, o: { name?: string; templateCourseId?: number | null } = {}): Promise<number> {
  return insert(pool, 'INSERT INTO environments (name, moodle_template_course_id) VALUES (?, ?)', [o.name ?? 'Linux lab', o.templateCourseId ?? null]);
}

export async function addEvent(pool: Pool, o: { name?: string; shortName?: string; environmentId?: number | null; status?: string } = {}): Promise<{ id: number; shortName: string }> {
  const sn = o.shortName ?? shortName();
  const id = await insert(pool, "INSERT INTO events (name, short_name, environment_id, start_date, end_date, status) VALUES (?, ?, ?, CURRENT_DATE, CURRENT_DATE + INTERVAL 7 DAY, ?)", [
    o.name ?? 'Linux Basics',
    sn,
    o.environmentId ?? null,
    o.status ?? 'deploying',
  ]);
  return { id, shortName: sn };
}

export async function addParticipant(
  pool: Pool,
  eventId: number,
  o: { username: string; email?: string; firstName?: string; lastName?: string; language?: string; role?: 'student' | 'instructor' },
): Promise<number> {
  return insert(pool, 'INSERT INTO event_participants (event_id, username, email, first_name, last_name, language, role) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    eventId,
    o.username,
    o.email ?? `${o.username}@students.test`,
    o.firstName ?? '',
    o.lastName ?? '',
    o.language ?? 'en',
    o.role ?? 'student',
  ]);
}

export async function addAdmin(pool: Pool, eventId: number, o: { email: string; name?: string; language?: string }): Promise<number> {
  return insert(pool, 'INSERT INTO event_admins (event_id, name, email, language) VALUES (?, ?, ?, ?)', [eventId, o.name ?? '', o.email, o.language ?? 'en']);
}

export async function addVmTemplate(pool: Pool, o: { vmid: number; name: string; node?: string }): Promise<number> {
  return insert(pool, 'INSERT INTO vm_templates (vmid, name, node) VALUES (?, ?, ?)', [o.vmid, o.name, o.node ?? 'pve-a']);
}

export async function addConnectionTemplate(
  pool: Pool,
  o: { vmTemplateId?: number; vmId?: number; name?: string; protocol?: 'ssh' | 'rdp'; port?: number; username?: string; password: string },
): Promise<number> {
  const protocol = o.protocol ?? 'ssh';
  return insert(pool, 'INSERT INTO connection_templates (name, vm_template_id, vm_id, protocol, port, username, password) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    o.name ?? '',
    o.vmTemplateId ?? null,
    o.vmId ?? null,
    protocol,
    o.port ?? (protocol === 'ssh' ? 22 : 3389),
    o.username ?? 'student',
    o.password,
  ]);
}

export async function addVm(
  pool: Pool,
  o: { vmid: number; name: string; templateId?: number; eventId?: number; participantId?: number; ip?: string; node?: string; status?: string },
): Promise<number> {
  return insert(pool, 'INSERT INTO vms (vmid, node, ip_address, name, template_id, event_id, participant_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    o.vmid,
    o.node ?? 'pve-a',
    o.ip ?? null,
    o.name,
    o.templateId ?? null,
    o.eventId ?? null,
    o.participantId ?? null,
    o.status ?? 'running',
  ]);
}

/** A template for a mail action (the four event slugs are seeded by migration 2; others are added here). */
export async function addMailTemplate(
  pool: Pool,
  o: { slug: string; language?: string; subject: string; content: string; senderName?: string; replyTo?: string },
): Promise<number> {
  await pool.query('INSERT IGNORE INTO mail_actions (slug, name) VALUES (?, ?)', [o.slug, o.slug]);
  return insert(
    pool,
    'INSERT INTO mail_templates (action_id, language, name, subject, content, sender_name, reply_to) SELECT id, ?, ?, ?, ?, ?, ? FROM mail_actions WHERE slug = ?',
    [o.language ?? 'en', `${o.slug} (${o.language ?? 'en'})`, o.subject, o.content, o.senderName ?? null, o.replyTo ?? null, o.slug],
  );
}
