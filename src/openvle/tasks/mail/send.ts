import type { RowDataPacket, ResultSetHeader } from 'mysql2';
import { clip, redactSecrets } from '../../clients/failure.js';
import { parseMailAddress } from '../../clients/smtp/index.js';
import { Args, BadArgumentError } from '../args.js';
import { defineTask } from '../define.js';
import { runContext } from '../job-context.js';
import type { TaskServices } from '../services.js';
import { flattenVariables, renderHtml, renderSubject, type MailVariables } from './render.js';

const NAME = 'openvle.mail.send';

/** The language templates fall back to when none exists in the recipient's language. */
export const FALLBACK_LANGUAGE = 'en';

interface MailRow extends RowDataPacket {
  id: number;
  recipient: string;
  subject: string;
  content: string;
  status: 'queued' | 'sent' | 'failed';
  message_id: string | null;
  sender_name: string | null;
  reply_to: string | null;
}

interface TemplateRow extends RowDataPacket {
  id: number;
  language: string;
  subject: string;
  content: string;
  reply_to: string | null;
  sender_name: string | null;
  sender_address: string | null;
}

export interface SendMailArgs {
  to: string;
  action?: string;
  language?: string;
  variables?: Record<string, unknown>;
  subject?: string;
  html?: string;
  eventId?: number;
}

function readArgs(kwargs: Record<string, unknown>): SendMailArgs {
  const a = new Args(NAME, kwargs);
  const to = a.string('to', { max: 320 });
  const action = a.optionalString('action', { max: 100 });
  const language = a.optionalString('language', { max: 8 });
  const variables = a.optionalObject('variables');
  const subject = a.optionalString('subject', { max: 998 });
  const html = a.optionalString('html', { max: 16 * 1024 * 1024 });
  const eventId = a.optionalInt('event_id', { min: 1 });
  a.done();
  if (!parseMailAddress(to) || parseMailAddress(to)!.name !== undefined) throw new BadArgumentError(NAME, "argument 'to' must be one e-mail address");
  if (action !== undefined && (subject !== undefined || html !== undefined)) throw new BadArgumentError(NAME, "takes either 'action' or 'subject' and 'html', not both");
  if (action === undefined && (subject === undefined || html === undefined)) throw new BadArgumentError(NAME, "needs 'action', or both 'subject' and 'html'");
  if (action === undefined && (language !== undefined || variables !== undefined)) throw new BadArgumentError(NAME, "'language' and 'variables' go with 'action' only");
  return { to, ...(action ? { action } : {}), ...(language ? { language } : {}), ...(variables ? { variables } : {}), ...(subject ? { subject } : {}), ...(html ? { html } : {}), ...(eventId ? { eventId } : {}) };
}

/** The recipient as the event knows them (participant or admin), for the language and the `user.*` placeholders. */
async function recipientOf(s: TaskServices, to: string, eventId: number | undefined): Promise<{ vars: MailVariables; language?: string }> {
  if (eventId === undefined) return { vars: { 'user.email': to } };
  const [parts] = await s.pool.query<RowDataPacket[]>(
    'SELECT username, first_name, last_name, email, language, role FROM event_participants WHERE event_id = ? AND email = ? ORDER BY id LIMIT 1',
    [eventId, to],
  );
  const p = parts[0];
  if (p) {
    const name = `${p.first_name} ${p.last_name}`.trim() || p.username;
    return { vars: { 'user.name': name, 'user.first_name': p.first_name, 'user.last_name': p.last_name, 'user.username': p.username, 'user.email': p.email, 'user.role': p.role }, language: p.language };
  }
  const [admins] = await s.pool.query<RowDataPacket[]>('SELECT name, email, language FROM event_admins WHERE event_id = ? AND email = ? LIMIT 1', [eventId, to]);
  const ad = admins[0];
  if (ad) return { vars: { 'user.name': ad.name || ad.email, 'user.email': ad.email }, language: ad.language };
  return { vars: { 'user.email': to } };
}

async function eventVariables(s: TaskServices, eventId: number | undefined): Promise<MailVariables> {
  if (eventId === undefined) return {};
  const [rows] = await s.pool.query<RowDataPacket[]>(
    "SELECT id, name, short_name, DATE_FORMAT(start_date, '%Y-%m-%d') AS start_date, DATE_FORMAT(end_date, '%Y-%m-%d') AS end_date, status FROM events WHERE id = ?",
    [eventId],
  );
  const e = rows[0];
  if (!e) return {};
  return flattenVariables({ event: { id: e.id, name: e.name, short_name: e.short_name, start_date: e.start_date, end_date: e.end_date, status: e.status } });
}

/**
 * The template for an action in a language: the language itself (`de-CH`),
 * its base (`de`), then FALLBACK_LANGUAGE, then the action's oldest
 * template. Undefined when the action has none (it then sends nothing).
 */
export async function findTemplate(s: TaskServices, actionId: number, language: string): Promise<TemplateRow | undefined> {
  const [rows] = await s.pool.query<TemplateRow[]>('SELECT id, language, subject, content, reply_to, sender_name, sender_address FROM mail_templates WHERE action_id = ? ORDER BY id', [actionId]);
  const lang = language.toLowerCase();
  const wanted = [lang, lang.split(/[-_]/)[0]!, FALLBACK_LANGUAGE];
  for (const w of wanted) {
    const t = rows.find((r) => r.language.toLowerCase() === w);
    if (t) return t;
  }
  return rows[0];
}

/** The row a send job made on an earlier run, found by its job id. */
async function rowOfJob(s: TaskServices, jobId: string | undefined): Promise<MailRow | undefined> {
  if (!jobId) return undefined;
  const [rows] = await s.pool.query<MailRow[]>('SELECT id, recipient, subject, content, status, message_id, sender_name, reply_to FROM sent_mails WHERE job_id = ?', [jobId]);
  return rows[0];
}

type Prepared = { row: MailRow } | { skipped: string };

/** Renders the mail and records it `queued`, once per job: a concurrent or repeated run gets the same row. */
async function prepare(s: TaskServices, args: SendMailArgs, ctx: { jobId?: string; taskId?: number }): Promise<Prepared> {
  let subject: string;
  let content: string;
  let template: TemplateRow | undefined;
  if (args.action !== undefined) {
    const [actions] = await s.pool.query<RowDataPacket[]>('SELECT id FROM mail_actions WHERE slug = ?', [args.action]);
    if (!actions[0]) throw new BadArgumentError(NAME, `unknown mail action '${args.action.slice(0, 100)}'`);
    const who = await recipientOf(s, args.to, args.eventId);
    const language = args.language ?? who.language ?? FALLBACK_LANGUAGE;
    template = await findTemplate(s, actions[0].id as number, language);
    if (!template) return { skipped: `no template for action '${args.action}'` };
    // The caller's variables win over what the database says.
    const vars: MailVariables = { ...who.vars, ...(await eventVariables(s, args.eventId)), ...flattenVariables(args.variables ?? {}) };
    subject = renderSubject(template.subject, vars);
    content = renderHtml(template.content, vars);
  } else {
    subject = renderSubject(args.subject!, {});
    content = args.html!;
  }
  // The From address is always SMTP_FROM's (the server's SPF/DKIM are set up
  // for it); a template may change the display name only.
  const from = s.smtp().config.from;
  // The unique job_id makes the insert and the lookup one step: a second
  // run of the same job lands on the row of the first.
  const [res] = await s.pool.query<ResultSetHeader>(
    `INSERT INTO sent_mails (recipient, subject, content, template_id, task_id, job_id, status, sender_name, sender_address, reply_to)
     VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)
     ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)`,
    [args.to, subject, content, template?.id ?? null, ctx.taskId ?? null, ctx.jobId ?? null, template?.sender_name ?? from.name ?? null, from.address, template?.reply_to ?? null],
  );
  const [rows] = await s.pool.query<MailRow[]>('SELECT id, recipient, subject, content, status, message_id, sender_name, reply_to FROM sent_mails WHERE id = ?', [res.insertId]);
  return { row: rows[0]! };
}

/**
 * openvle.mail.send: renders a mail action's template (or takes subject
 * and html as given), records it in sent_mails and sends it over SMTP with
 * the Message-ID `<mail-<row id>@<SMTP_FROM domain>>`.
 *
 * Once per job: the row is keyed by the job id, so a retry or a re-run
 * after a crash reuses it (its rendered text too), and a row already
 * `sent` is never sent again. The one window left is a crash between the
 * server's acceptance and the `sent` update: the re-run sends again with
 * the same Message-ID, which receivers can de-duplicate.
 */
export async function sendMail(s: TaskServices, kwargs: Record<string, unknown>): Promise<unknown> {
  const args = readArgs(kwargs);
  const ctx = runContext();
  let row = await rowOfJob(s, ctx.jobId);
  if (!row) {
    const p = await prepare(s, args, ctx);
    if ('skipped' in p) {
      s.log.info(`${NAME}: skipped: ${p.skipped}`);
      return { skipped: p.skipped };
    }
    row = p.row;
  }
  const smtp = s.smtp();
  const messageId = row.message_id ?? smtp.messageIdFor(row.id);
  if (row.status === 'sent') return { mail_id: row.id, message_id: messageId };
  await s.pool.query("UPDATE sent_mails SET status = 'queued', message_id = ? WHERE id = ? AND status <> 'sent'", [messageId, row.id]);
  try {
    await smtp.send(
      {
        to: row.recipient,
        subject: row.subject,
        html: row.content,
        messageId,
        headers: { 'Auto-Submitted': 'auto-generated' },
        ...(row.reply_to ? { replyTo: row.reply_to } : {}),
        ...(row.sender_name && row.sender_name !== smtp.config.from.name ? { fromName: row.sender_name } : {}),
      },
      ctx.signal,
    );
  } catch (err) {
    // Every failed attempt shows as failed with its reason; a retry puts the row back to queued.
    const text = clip(redactSecrets(err instanceof Error ? err.message : String(err)), 16_000);
    await s.pool.query("UPDATE sent_mails SET status = 'failed', error = ? WHERE id = ? AND status <> 'sent'", [text, row.id]);
    throw err;
  }
  await s.pool.query("UPDATE sent_mails SET status = 'sent', sent_at = CURRENT_TIMESTAMP(3), error = NULL WHERE id = ?", [row.id]);
  return { mail_id: row.id, message_id: messageId };
}

export const SEND_MAIL = defineTask({
  name: NAME,
  queue: 'mails',
  label: 'Send email',
  action: 'Send email',
  run: sendMail,
});
