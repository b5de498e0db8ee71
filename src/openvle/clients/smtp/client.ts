import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import nodemailer from 'nodemailer';
import { silentLogger, type Logger } from '../../../index.js';
import { failure, redactSecrets, clip, type ExternalError, type PermanentExternalError } from '../failure.js';
import { classifySmtpError, smtpFailure, type SmtpFailureClass } from './classify.js';
import { domainOf, parseMailAddress, type SmtpConfig } from './config.js';

export interface OutgoingMail {
  /** One address, or several (see `SendResult.rejected` for what that implies). */
  to: string | string[];
  subject: string;
  html: string;
  /** Plain-text alternative; nodemailer sends HTML only when it is missing. */
  text?: string;
  /**
   * The Message-ID, with angle brackets, chosen by the caller so that every
   * retry of the same mail carries the same one and receivers can
   * de-duplicate a message whose first attempt was delivered after all.
   * Use `mailMessageId(mailId, from)`: `<mail-<id>@<from-domain>>`.
   */
  messageId: string;
  /** Extra headers (e.g. `Auto-Submitted`); they cannot replace From, To, Subject, Message-ID or Date. */
  headers?: Record<string, string>;
  replyTo?: string;
  /** Display name for this mail's From (a template's sender name); the address stays SMTP_FROM's. */
  fromName?: string;
}

export interface RejectedRecipient {
  address: string;
  status?: number;
  /** The server's reply, secrets redacted. */
  response?: string;
  failureClass: SmtpFailureClass;
}

export interface SendResult {
  messageId: string;
  /** Recipients the server took. */
  accepted: string[];
  /** Recipients refused while others were accepted (never all of them: that throws). */
  rejected: RejectedRecipient[];
  /** The server's reply to DATA, e.g. `250 2.0.0 Ok: queued as 4Q7xYz1`. */
  response: string;
}

export interface SmtpClientOptions {
  logger?: Logger;
}

const RESERVED_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'message-id', 'date', 'sender', 'reply-to']);
const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

/** The Message-ID the OpenVLE layer uses for a mail record: `<mail-<id>@<from-domain>>`. */
export function mailMessageId(mailId: string | number, fromAddress: string): string {
  const id = String(mailId);
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new TypeError(`a mail id for a Message-ID may hold letters, digits, '.', '_' and '-' only (got ${JSON.stringify(id)})`);
  return `<mail-${id}@${domainOf(fromAddress)}>`;
}

/**
 * Sends OpenVLE's mail through one SMTP server (external-apis.md §4) over
 * a nodemailer connection pool. Every failure is thrown as classified by
 * `classifySmtpError`: transient ones as `ExternalError` (the mails queue's
 * retry policy applies), permanent ones as `PermanentExternalError` (the
 * job fails at once). Every refusal is logged with the server's reply;
 * the password never appears in a log line or an error.
 */
export class SmtpClient {
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;
  private readonly log: Logger;
  private readonly secrets: string[];
  private closed = false;

  constructor(readonly config: SmtpConfig, opts: SmtpClientOptions = {}) {
    this.log = opts.logger ?? silentLogger;
    this.secrets = secretForms(config.user, config.password);
    const auth = config.user !== undefined && config.password !== undefined ? { user: config.user, pass: config.password } : undefined;
    this.transport = nodemailer.createTransport({
      pool: true,
      host: config.host,
      port: config.port,
      secure: config.security === 'tls',
      requireTLS: config.security === 'starttls',
      ignoreTLS: config.security === 'none',
      ...(auth ? { auth } : {}),
      tls: {
        rejectUnauthorized: config.verifySsl,
        minVersion: 'TLSv1.2',
        // A `ca` option replaces Node's bundled CAs; SMTP_CA_FILE adds to them.
        ...(config.ca ? { ca: [...rootCertificates, config.ca] } : {}),
        ...(isIP(config.host) === 0 ? { servername: config.host } : {}),
      },
      connectionTimeout: config.connectionTimeoutMs,
      greetingTimeout: config.greetingTimeoutMs,
      socketTimeout: config.socketTimeoutMs,
      maxConnections: config.maxConnections,
      maxMessages: config.maxMessages,
      // nodemailer resends a message on a new connection only when the old
      // one closed before a byte of it was sent; once is enough, the queue
      // retries the rest.
      maxRequeues: 1,
      // nodemailer's own logger would print the protocol, AUTH lines included.
      logger: false,
      debug: false,
      // Mail bodies come from templates: they must not pull local files or URLs in.
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  /**
   * Sends one message. Resolves when the server accepted it for at least
   * one recipient; throws the classified failure otherwise. An abort of
   * `signal` closes the connection carrying the message and throws the
   * signal's reason.
   *
   * Partial rejection (some recipients refused, others accepted) resolves:
   * the message is already on its way to the accepted ones, so retrying
   * the job would send it to them twice. Each refused recipient is in
   * `rejected` with its own class, for the caller to record; OpenVLE sends
   * one message per recipient, where this cannot happen.
   */
  async send(mail: OutgoingMail, signal?: AbortSignal): Promise<SendResult> {
    if (signal?.aborted) throw abortReason(signal);
    const input = this.checkInput(mail);
    if (input) throw input;
    if (this.closed) throw failure('transient', 'SMTP client is closed', { system: 'smtp', operation: 'send' });
    const to = Array.isArray(mail.to) ? mail.to : [mail.to];
    const from = { address: this.config.from.address, name: mail.fromName ?? this.config.from.name ?? '' };
    try {
      const info = await this.transport.sendMail({
        from,
        to,
        subject: mail.subject,
        html: mail.html,
        ...(mail.text !== undefined ? { text: mail.text } : {}),
        ...(mail.replyTo !== undefined ? { replyTo: mail.replyTo } : {}),
        messageId: mail.messageId,
        headers: mail.headers ?? {},
        envelope: { from: this.config.from.address, to },
        ...(signal ? { signal } : {}),
      });
      const rejected = (info.rejectedErrors ?? []).map((e: unknown): RejectedRecipient => {
        const r = e as unknown as { recipient?: string; responseCode?: number; response?: string; command?: string };
        return {
          address: r.recipient ?? '',
          ...(typeof r.responseCode === 'number' ? { status: r.responseCode } : {}),
          ...(r.response ? { response: this.clean(r.response) } : {}),
          failureClass: classifySmtpError({ ...r, command: r.command ?? 'RCPT TO' }),
        };
      });
      for (const r of rejected) {
        this.log.warning(`smtp: ${mail.messageId} refused for <${r.address}> (${r.failureClass}): ${r.response ?? 'no reply'}`);
      }
      return {
        messageId: mail.messageId,
        accepted: (info.accepted ?? []).map(String),
        rejected,
        response: info.response ?? '',
      };
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      const e = smtpFailure(err, this.secrets);
      // The message holds the server's reply when there was one; the code names the rest (ETIMEDOUT, ECONNREFUSED).
      this.log.warning(`smtp: ${mail.messageId}: ${e.message}${e.details.code ? ` [${e.details.code}]` : ''}`);
      throw e;
    }
  }

  /**
   * Opens a connection, says EHLO, STARTTLS and AUTH as configured, and
   * closes it: a start-up check that the server and credentials work.
   * Throws the classified failure.
   */
  async verify(): Promise<void> {
    try {
      await this.transport.verify();
    } catch (err) {
      const e = smtpFailure(err, this.secrets);
      this.log.warning(`smtp: verify ${this.config.host}:${this.config.port}: ${e.message}${e.details.code ? ` [${e.details.code}]` : ''}`);
      throw e;
    }
  }

  /** The Message-ID for an OpenVLE mail record, in this client's From domain (see `mailMessageId`). */
  messageIdFor(mailId: string | number): string {
    return mailMessageId(mailId, this.config.from.address);
  }

  /** Closes the pool; a message being sent finishes first. */
  close(): void {
    this.closed = true;
    this.transport.close();
  }

  private clean(text: string): string {
    return clip(redactSecrets(text, this.secrets).replace(/\s+/g, ' ').trim(), 1024);
  }

  /** A mail this client cannot send as given: a permanent failure, with what is wrong. */
  private checkInput(mail: OutgoingMail): PermanentExternalError | ExternalError | undefined {
    const problems: string[] = [];
    const to = Array.isArray(mail.to) ? mail.to : [mail.to];
    if (to.length === 0) problems.push('no recipient');
    for (const t of to) if (typeof t !== 'string' || !parseMailAddress(t)) problems.push(`recipient ${JSON.stringify(t)} is not an address`);
    if (typeof mail.messageId !== 'string' || !MESSAGE_ID.test(mail.messageId)) {
      problems.push(`messageId ${JSON.stringify(mail.messageId)} must look like <local@domain>`);
    }
    if (typeof mail.subject !== 'string' || /[\r\n]/.test(mail.subject)) problems.push('subject must be one line of text');
    if (typeof mail.html !== 'string') problems.push('html must be a string');
    if (mail.replyTo !== undefined && !parseMailAddress(mail.replyTo)) problems.push(`replyTo ${JSON.stringify(mail.replyTo)} is not an address`);
    if (mail.fromName !== undefined && /[\r\n"<>]/.test(mail.fromName)) problems.push('fromName must be one line without quotes or angle brackets');
    for (const [k, v] of Object.entries(mail.headers ?? {})) {
      if (!/^[!-9;-~]+$/.test(k)) problems.push(`header name ${JSON.stringify(k)} is not valid`);
      else if (RESERVED_HEADERS.has(k.toLowerCase())) problems.push(`header ${k} is set by the client`);
      if (typeof v !== 'string' || /[\r\n]/.test(v)) problems.push(`header ${k} must be one line of text`);
    }
    if (!problems.length) return undefined;
    return failure('permanent', `SMTP mail not sent, bad input: ${problems.join('; ')}`, { system: 'smtp', operation: 'API' });
  }
}

/** The password as it may appear on the wire: plain, and base64 in AUTH PLAIN / AUTH LOGIN. */
function secretForms(user: string | undefined, password: string | undefined): string[] {
  if (!password) return [];
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return [password, b64(password), b64(`\u0000${user ?? ''}\u0000${password}`), encodeURIComponent(password)];
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(typeof r === 'string' ? r : 'SMTP send aborted');
  e.name = 'AbortError';
  return e;
}
