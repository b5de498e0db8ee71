/**
 * What the simulated SMTP server does with the next sessions
 * (external-apis.md §4.4). A scenario applies from the moment it is set,
 * to new connections and to commands on open ones.
 *
 * Reply texts follow Postfix, the MTA most OpenVLE sites relay through,
 * with the enhanced status code written into the text as Postfix does;
 * clients must act on the three-digit code, never on the text.
 */
export type SmtpScenario =
  /** Every message is accepted with `250 2.0.0 Ok: queued as <id>`. */
  | { kind: 'accept' }
  /** The greeting is a refusal (default 421, the overloaded / shutting down server) and the connection is closed. */
  | { kind: 'refuse-greeting'; code?: 421 | 554; text?: string }
  /** AUTH answers 454 4.7.0 (temporary authentication failure, RFC 4954) whatever the credentials. */
  | { kind: 'auth-unavailable' }
  /**
   * Greylisting: the first RCPT for a sender/recipient pair is deferred
   * (451 by default; postgrey uses 450), later attempts are accepted once
   * `retryAfterMs` (default 0) has passed since the first one. Setting a
   * greylist scenario again forgets the pairs seen so far.
   */
  | { kind: 'greylist'; code?: 450 | 451; retryAfterMs?: number }
  /**
   * RCPT TO is refused for the listed addresses (case-insensitive) with
   * `code` (default 550, unknown user); the others are accepted. 452 or
   * 552 here mean "too many recipients".
   */
  | { kind: 'reject-recipients'; addresses: string[]; code?: number; text?: string }
  /** The message is refused after DATA (552 storage exceeded, 554 transaction failed, or a 4xx). */
  | { kind: 'reject-data'; code: number; text?: string }
  /** TCP is accepted (and TLS, on an implicit-TLS port) but the greeting never comes. */
  | { kind: 'silent' }
  /**
   * The connection is cut without a reply: after MAIL FROM, after RCPT TO,
   * or (default) after the whole message was received but before the
   * reply to DATA, the case where the sender cannot know whether the mail
   * was delivered.
   */
  | { kind: 'drop'; at?: 'mail' | 'rcpt' | 'data' };

/** Default reply texts, without the code (smtp-server adds it). */
export const replyText = {
  greeting421: (name: string) => `${name} Service not available, closing transmission channel`,
  greeting554: (name: string) => `${name} No SMTP service here`,
  authFailed: '5.7.8 Error: authentication failed: authentication failure',
  authUnavailable: '4.7.0 Temporary authentication failure',
  greylisted: (code: number, rcpt: string) =>
    `${code === 450 ? '4.2.0' : '4.7.1'} <${rcpt}>: Recipient address rejected: Greylisted, please try again later`,
  recipient: (code: number, rcpt: string) => {
    if (code === 550) return `5.1.1 <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table`;
    if (code === 452 || code === 552) return `${code === 452 ? '4' : '5'}.5.3 Error: too many recipients`;
    return `${String(code)[0]}.0.0 <${rcpt}>: Recipient address rejected`;
  },
  data: (code: number) => {
    if (code === 552) return '5.3.4 Message size exceeds fixed limit';
    if (code === 554) return '5.7.1 Message rejected: content refused by policy';
    if (code >= 400 && code < 500) return `${String(code)[0]}.3.0 Error: queue file write error`;
    return `${String(code)[0]}.0.0 Message rejected`;
  },
} as const;

/** Checks a scenario given from outside (the command line, a test) and says what is wrong with it. */
export function checkScenario(s: SmtpScenario): void {
  const code = (c: unknown, what: string, lo: number, hi: number) => {
    if (c !== undefined && !(Number.isInteger(c) && (c as number) >= lo && (c as number) <= hi)) {
      throw new TypeError(`${what} must be an SMTP reply code between ${lo} and ${hi} (got ${JSON.stringify(c)})`);
    }
  };
  switch (s.kind) {
    case 'accept':
    case 'auth-unavailable':
    case 'silent':
      return;
    case 'refuse-greeting':
      if (s.code !== undefined && s.code !== 421 && s.code !== 554) throw new TypeError('refuse-greeting code must be 421 or 554');
      return;
    case 'greylist':
      if (s.code !== undefined && s.code !== 450 && s.code !== 451) throw new TypeError('greylist code must be 450 or 451');
      if (s.retryAfterMs !== undefined && !(s.retryAfterMs >= 0)) throw new TypeError('greylist retryAfterMs must be >= 0');
      return;
    case 'reject-recipients':
      if (!Array.isArray(s.addresses) || s.addresses.length === 0) throw new TypeError('reject-recipients needs at least one address');
      code(s.code, 'reject-recipients code', 400, 599);
      return;
    case 'reject-data':
      code(s.code, 'reject-data code', 400, 599);
      if (s.code === undefined) throw new TypeError('reject-data needs a code');
      return;
    case 'drop':
      if (s.at !== undefined && !['mail', 'rcpt', 'data'].includes(s.at)) throw new TypeError("drop at must be 'mail', 'rcpt' or 'data'");
      return;
    default:
      throw new TypeError(`unknown SMTP scenario ${JSON.stringify((s as { kind?: unknown }).kind)}`);
  }
}
