import type { SimWorld } from '../sim/world.js';
import type { Pool } from './db/pool.js';

/**
 * A small, complete OpenVLE story for the demo and the end-to-end tests:
 * an environment with two VM templates (Linux over SSH, Windows over RDP)
 * and their connection templates, a Moodle template course, an event with
 * participants (the first an instructor, the others students) and admins,
 * and mail templates in English and German for the event actions. With a
 * `world`, the matching Proxmox templates and Moodle course are created in
 * the simulators too.
 */
export interface DemoOptions {
  world?: SimWorld;
  /** Participants, the first one the instructor (default 3). */
  participants?: number;
  admins?: number;
  /** 4–8 of [a-z0-9_-], unique per database (default 'demo'). */
  shortName?: string;
  eventName?: string;
  /** YYYY-MM-DD; default today (UTC). */
  startDate?: string;
  /** YYYY-MM-DD or null (never ends); default 14 days after the start. */
  endDate?: string | null;
  /** Template VMIDs (default 9000 and 9001); a test running two stories in one world gives others. */
  templateVmids?: [number, number];
  /** Proxmox node the templates live on (default pve-a, one of the sim world's nodes). */
  node?: string;
  /** Proxmox pool of the templates (default the sim's OpenVLE-VMs). */
  pool?: string;
  /** Skip the Moodle template course (the environment then has none). */
  withoutMoodle?: boolean;
  /** Without a world: the Moodle template course id to record (default none). */
  moodleTemplateCourseId?: number;
  /** Participants' e-mail domain (default openvle.test). */
  mailDomain?: string;
}

export interface Demo {
  environmentId: number;
  eventId: number;
  shortName: string;
  /** vm_templates ids and their Proxmox VMIDs, in cloning order. */
  templateIds: number[];
  templateVmids: number[];
  connectionTemplateIds: number[];
  participantIds: number[];
  participantEmails: string[];
  adminIds: number[];
  adminEmails: string[];
  /** The Moodle template course, when there is one. */
  moodleTemplateCourseId: number | null;
}

/** Subjects and bodies per action and language: placeholders as mail.send renders them ({user.name}, {event.name}, ...). */
export const DEMO_MAIL_TEMPLATES: Record<string, Record<'en' | 'de', { subject: string; content: string }>> = {
  events_post_deployment_success: {
    en: { subject: '{event.name} is ready', content: '<p>Hello {user.name},</p><p>your lab for <b>{event.name}</b> is ready from {event.start_date}.</p>' },
    de: { subject: '{event.name} ist bereit', content: '<p>Hallo {user.name},</p><p>Ihr Labor für <b>{event.name}</b> steht ab {event.start_date} bereit.</p>' },
  },
  events_post_deployment_failed: {
    en: { subject: 'Deployment of {event.name} failed', content: '<p>Hello {user.name},</p><p>{event.name} could not be deployed ({event.failed_steps} steps failed). See its tasks.</p>' },
    de: { subject: 'Bereitstellung von {event.name} fehlgeschlagen', content: '<p>Hallo {user.name},</p><p>{event.name} konnte nicht bereitgestellt werden ({event.failed_steps} Schritte fehlgeschlagen).</p>' },
  },
  events_decommission_started: {
    en: { subject: '{event.name} is being archived', content: '<p>Hello {user.name},</p><p>{event.name} has ended; its VMs are being removed.</p>' },
    de: { subject: '{event.name} wird archiviert', content: '<p>Hallo {user.name},</p><p>{event.name} ist beendet; die VMs werden entfernt.</p>' },
  },
  events_post_decommission_failed: {
    en: { subject: 'Archiving {event.name} failed', content: '<p>Hello {user.name},</p><p>{event.name} could not be archived ({event.failed_steps} steps failed).</p>' },
    de: { subject: 'Archivierung von {event.name} fehlgeschlagen', content: '<p>Hallo {user.name},</p><p>{event.name} konnte nicht archiviert werden ({event.failed_steps} Schritte fehlgeschlagen).</p>' },
  },
  events_start_notice: {
    en: { subject: '{event.name} starts on {event.start_date}', content: '<p>Hello {user.name},</p><p>{event.name} starts on {event.start_date}.</p>' },
    de: { subject: '{event.name} beginnt am {event.start_date}', content: '<p>Hallo {user.name},</p><p>{event.name} beginnt am {event.start_date}.</p>' },
  },
  events_end_notice: {
    en: { subject: '{event.name} ends on {event.end_date}', content: '<p>Hello {user.name},</p><p>{event.name} ends on {event.end_date}; save your work.</p>' },
    de: { subject: '{event.name} endet am {event.end_date}', content: '<p>Hallo {user.name},</p><p>{event.name} endet am {event.end_date}; sichern Sie Ihre Arbeit.</p>' },
  },
};

const FIRST = ['Ada', 'Bert', 'Clara', 'Dieter', 'Eva', 'Falk', 'Greta', 'Hugo'];
const LAST = ['Lovelace', 'Brecht', 'Zetkin', 'Hallervorden', 'Braun', 'Meyer', 'Garbo', 'Ball'];

// Demo credentials of the demo templates' VMs (a fixture, not a secret of
// anything real); the worker reads them from MariaDB when it provisions.
const DEMO_PASSWORDS = ['demo-ssh-Passw0rd', 'demo-rdp-Passw0rd'];

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

async function insert(pool: Pool, sql: string, params: unknown[]): Promise<number> {
  const [res] = await pool.query(sql, params);
  return Number((res as { insertId: number }).insertId);
}

/** Seeds the story into an OpenVLE database (migrated) and, with `world`, into the simulators. */
export async function seedDemo(pool: Pool, opts: DemoOptions = {}): Promise<Demo> {
  const shortName = opts.shortName ?? 'demo';
  const n = opts.participants ?? 3;
  const nAdmins = opts.admins ?? 1;
  const node = opts.node ?? 'pve-a';
  const pvePool = opts.pool ?? 'OpenVLE-VMs';
  const domain = opts.mailDomain ?? 'openvle.test';
  const start = opts.startDate ?? new Date().toISOString().slice(0, 10);
  const end = opts.endDate === undefined ? addDays(start, 14) : opts.endDate;
  const [linuxVmid, windowsVmid] = opts.templateVmids ?? [9000, 9001];
  const templates = [
    { vmid: linuxVmid, name: `${shortName}-ubuntu-2204`, cores: 2, memory: 2048, protocol: 'ssh', port: 22, username: 'student' },
    { vmid: windowsVmid, name: `${shortName}-win11`, cores: 4, memory: 8192, protocol: 'rdp', port: 3389, username: 'Student' },
  ];

  if (opts.world) {
    for (const t of templates) {
      const vm = opts.world.proxmox.state.addTemplate(t.vmid, node, t.name);
      vm.pool = pvePool;
      vm.config = { ...vm.config, cores: t.cores, memory: t.memory };
    }
  }
  let moodleTemplateCourseId: number | null = opts.withoutMoodle ? null : opts.moodleTemplateCourseId ?? null;
  if (opts.world && !opts.withoutMoodle) {
    const category = opts.world.moodle.addCategory(`OpenVLE ${shortName}`);
    moodleTemplateCourseId = opts.world.moodle.addCourse({ fullname: `${shortName} lab – template`, shortname: `${shortName.toUpperCase()}-TPL`, categoryid: category });
  }

  const environmentId = await insert(pool, 'INSERT INTO environments (name, description, moodle_template_course_id) VALUES (?, ?, ?)', [
    `${shortName} lab environment`,
    'A Linux VM over SSH and a Windows VM over RDP per participant',
    moodleTemplateCourseId,
  ]);
  const templateIds: number[] = [];
  const connectionTemplateIds: number[] = [];
  for (const [i, t] of templates.entries()) {
    const id = await insert(pool, 'INSERT INTO vm_templates (vmid, name, node, cores, memory_mb, synced_at) VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP(3))', [t.vmid, t.name, node, t.cores, t.memory]);
    templateIds.push(id);
    await pool.query('INSERT INTO environment_templates (environment_id, template_id, position) VALUES (?, ?, ?)', [environmentId, id, i]);
    connectionTemplateIds.push(
      await insert(pool, 'INSERT INTO connection_templates (name, vm_template_id, protocol, port, username, password) VALUES (?, ?, ?, ?, ?, ?)', [
        t.protocol.toUpperCase(),
        id,
        t.protocol,
        t.port,
        t.username,
        DEMO_PASSWORDS[i],
      ]),
    );
  }

  const eventId = await insert(pool, 'INSERT INTO events (name, short_name, environment_id, start_date, end_date) VALUES (?, ?, ?, ?, ?)', [
    opts.eventName ?? `Linux Lab ${shortName}`,
    shortName,
    environmentId,
    start,
    end,
  ]);
  const participantIds: number[] = [];
  const participantEmails: string[] = [];
  for (let i = 0; i < n; i++) {
    const username = `${shortName}-user${i + 1}`;
    const email = `${username}@${domain}`;
    participantEmails.push(email);
    participantIds.push(
      await insert(pool, 'INSERT INTO event_participants (event_id, user_id, username, email, first_name, last_name, language, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        eventId,
        1000 + i,
        username,
        email,
        FIRST[i % FIRST.length],
        LAST[i % LAST.length],
        i % 2 === 0 ? 'en' : 'de',
        i === 0 ? 'instructor' : 'student',
      ]),
    );
  }
  const adminIds: number[] = [];
  const adminEmails: string[] = [];
  for (let i = 0; i < nAdmins; i++) {
    const email = `${shortName}-admin${i + 1}@${domain}`;
    adminEmails.push(email);
    adminIds.push(await insert(pool, 'INSERT INTO event_admins (event_id, user_id, name, email, language) VALUES (?, ?, ?, ?, ?)', [eventId, 1 + i, `Admin ${i + 1}`, email, 'en']));
  }

  // Templates are global (one per action and language): seeded once per database.
  for (const [slug, langs] of Object.entries(DEMO_MAIL_TEMPLATES)) {
    for (const [language, t] of Object.entries(langs)) {
      await pool.query(
        `INSERT IGNORE INTO mail_templates (action_id, language, name, subject, content)
         SELECT id, ?, ?, ?, ? FROM mail_actions WHERE slug = ?`,
        [language, `${slug} (${language})`, t.subject, t.content, slug],
      );
    }
  }

  return {
    environmentId,
    eventId,
    shortName,
    templateIds,
    templateVmids: templates.map((t) => t.vmid),
    connectionTemplateIds,
    participantIds,
    participantEmails,
    adminIds,
    adminEmails,
    moodleTemplateCourseId,
  };
}
