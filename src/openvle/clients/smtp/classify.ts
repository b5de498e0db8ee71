import { clip, failure, redactSecrets, type ExternalError, type FailureClass, type PermanentExternalError } from '../failure.js';

/** The classes an SMTP outcome can have: there is no re-plan and no "already done" in mail. */
export type SmtpFailureClass = Extract<FailureClass, 'transient' | 'permanent' | 'permanent_config'>;

/** What nodemailer puts on its errors (external-apis.md §4.2); every field may be missing. */
export interface SmtpErrorLike {
  message?: string;
  /** nodemailer's category: ECONNECTION, ETIMEDOUT, ESOCKET, EAUTH, EENVELOPE, ... */
  code?: string;
  /** The Node code nodemailer replaced with its own (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID, ...). */
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

/** Reply codes that say the configuration (credentials, TLS) is wrong: RFC 4954 §6. */
const CONFIG_REPLY_CODES = new Set([432, 530, 534, 535, 538]);

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EPROXY', 'EMAXLIMIT']);
const CONFIG_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ETLS', 'ECONFIG', 'EREQUIRETLS']);
const PERMANENT_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'ESTREAM', 'EFILEACCESS', 'EURLACCESS', 'EPROTOCOL']);

/**
 * A certificate the client refuses, or a TLS handshake that cannot work
 * (implicit TLS against a STARTTLS port): nodemailer reports those as
 * ESOCKET on an implicit-TLS connection, but retrying cannot fix them.
 */
function isTlsConfigProblem(err: SmtpErrorLike): boolean {
  const c = err.originalCode ?? '';
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|^ERR_TLS_|^ERR_SSL_/.test(c) ||
    /certificate|self[- ]signed|wrong version number|unable to verify|Hostname\/IP does not match/i.test(err.message ?? '')
  );
}

/**
 * The one classifier for SMTP (external-apis.md §4.3): the reply code
 * decides when there is one, otherwise nodemailer's error category.
 *
 * - 4xx: transient (greylisting 450/451, 421 overload, 452, 454).
 * - 552 to RCPT TO: transient ("too many recipients", RFC 5321 §4.5.3.1.10).
 * - 432/530/534/535/538, and any 5xx to STARTTLS or AUTH: permanent_config.
 * - any other 5xx, including 503: permanent (550 unknown user, 552/554 after DATA).
 * - no reply: connection, timeout, socket and DNS errors transient
 *   (RFC 5321 §3.8: a dropped connection counts as a 451); TLS, auth and
 *   configuration errors permanent_config; envelope/message errors
 *   without a reply (nodemailer's own validation) permanent.
 * - anything else: transient, bounded by the queue's retry count.
 */
export function classifySmtpError(err: SmtpErrorLike): SmtpFailureClass {
  const status = err.responseCode;
  if (typeof status === 'number' && status >= 400 && status < 600) {
    if (status < 500) return 'transient';
    if (status === 552 && err.command === 'RCPT TO') return 'transient';
    if (CONFIG_REPLY_CODES.has(status)) return 'permanent_config';
    // A 5xx to STARTTLS or AUTH (STARTTLS required but not offered, an
    // auth mechanism refused) is a configuration mismatch, not the mail's fault.
    if (err.code === 'ETLS' || err.code === 'EAUTH') return 'permanent_config';
    return 'permanent';
  }
  if (isTlsConfigProblem(err)) return 'permanent_config';
  const code = err.code ?? '';
  if (TRANSIENT_CODES.has(code)) return 'transient';
  if (CONFIG_CODES.has(code)) return 'permanent_config';
  if (PERMANENT_CODES.has(code)) return 'permanent';
  return 'transient';
}

/** The enhanced status code (RFC 3463) at the start of a reply's text, e.g. '5.1.1'. */
export function enhancedCode(response: string | undefined): string | undefined {
  return response ? /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1] : undefined;
}

/**
 * The error a send throws for a failed SMTP call: an `ExternalError`
 * (transient, retried by the queue) or a `PermanentExternalError` (failed
 * at once). Message and details carry the server's reply, with `secrets`
 * and anything that looks like a password removed.
 */
export function smtpFailure(err: unknown, secrets: Array<string | undefined> = []): ExternalError | PermanentExternalError {
  const e = (err ?? {}) as SmtpErrorLike;
  const cls = classifySmtpError(e);
  const clean = (text: string) => clip(redactSecrets(text, secrets).replace(/\s+/g, ' ').trim(), 1024);
  const what = e.command && e.command !== 'API' ? `SMTP ${e.command}` : 'SMTP';
  const raw = e.message ?? String(err);
  const message = `${what} failed (${cls}): ${clean(raw)}`;
  return failure(
    cls,
    message,
    {
      system: 'smtp',
      ...(typeof e.responseCode === 'number' ? { status: e.responseCode } : {}),
      code: enhancedCode(e.response) ?? e.originalCode ?? e.code,
      ...(e.command ? { operation: e.command } : {}),
      ...(e.response ? { body: clean(e.response) } : {}),
    },
    // The cause is not kept: nodemailer's error can hold the transport's options.
    undefined,
  );
}
