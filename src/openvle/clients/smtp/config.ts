import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { mask, type EnvReader } from '../../config/env.js';

export type SmtpSecurity = 'starttls' | 'tls' | 'none';

export interface MailAddress {
  address: string;
  name?: string;
}

export interface SmtpConfig {
  host: string;
  port: number;
  /** 'starttls': plain connect, STARTTLS required before anything else; 'tls': implicit TLS (port 465); 'none': no TLS at all. */
  security: SmtpSecurity;
  /** Both set or both unset: without them the client does not authenticate. */
  user?: string;
  password?: string;
  from: MailAddress;
  verifySsl: boolean;
  /** PEM of extra CAs to trust (SMTP_CA_FILE), for a server with a private CA or a self-signed certificate. */
  ca?: string;
  caFile?: string;
  /** How long to wait for the TCP (and, with 'tls', TLS) connection. */
  connectionTimeoutMs: number;
  /** How long to wait for the 220 greeting once connected. */
  greetingTimeoutMs: number;
  /** Longest silence from the server in the middle of a session. */
  socketTimeoutMs: number;
  /** Pooled connections kept open, and messages sent over one before it is renewed. */
  maxConnections: number;
  maxMessages: number;
}

/** external-apis.md §5: SMTP connect/greeting 10–30 s. */
export const SMTP_DEFAULTS = {
  connectionTimeoutMs: 15_000,
  greetingTimeoutMs: 15_000,
  socketTimeoutMs: 60_000,
  maxConnections: 2,
  maxMessages: 100,
} as const;

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;

function validAddress(address: string): boolean {
  const at = address.lastIndexOf('@');
  if (at <= 0) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!LOCAL_PART.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  if (/^\[.*\]$/.test(domain)) return isIP(domain.slice(1, -1)) !== 0;
  return HOSTNAME.test(domain) && !domain.endsWith('.');
}

/**
 * Parses `noreply@example.org`, `<noreply@example.org>`,
 * `OpenVLE <noreply@example.org>` or `"OpenVLE Lab" <noreply@example.org>`.
 * Returns undefined for anything else: several addresses, a missing
 * domain, characters that would need quoting in the local part.
 */
export function parseMailAddress(text: string): MailAddress | undefined {
  const s = text.trim();
  const m = /^(?:(?:"((?:[^"\\\r\n]|\\.)*)"|([^"<>\r\n]*?))\s*)?<([^<>\s]+)>$/.exec(s);
  if (m) {
    const name = (m[1]?.replace(/\\(.)/g, '$1') ?? m[2] ?? '').trim();
    const address = m[3]!;
    if (!validAddress(address)) return undefined;
    return name ? { address, name } : { address };
  }
  return validAddress(s) ? { address: s } : undefined;
}

/** The domain of an address, lower-case: the right-hand side of a Message-ID. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * Reads SMTP_HOST, SMTP_PORT, SMTP_SECURITY, SMTP_USER, SMTP_PASSWORD,
 * SMTP_FROM, SMTP_VERIFY_SSL and SMTP_CA_FILE; every bad value becomes one
 * problem line on the reader (values of secrets are never echoed).
 * SMTP_PORT defaults to 587, or 465 when SMTP_SECURITY is tls.
 */
export function smtpConfigFromEnv(reader: EnvReader): SmtpConfig {
  const host = reader.required('SMTP_HOST', 'is required (the SMTP server, a host name or IP address)');
  if (host && !(HOSTNAME.test(host) || isIP(host) !== 0)) {
    reader.problems.push(`SMTP_HOST must be a host name or IP address without scheme or port (got '${host}')`);
  }
  const security = reader.oneOf('SMTP_SECURITY', ['starttls', 'tls', 'none'] as const, 'starttls');
  const port = reader.int('SMTP_PORT', security === 'tls' ? 465 : 587, { min: 1, max: 65535 });

  const user = reader.string('SMTP_USER');
  const password = reader.raw('SMTP_PASSWORD');
  if (user !== undefined && password === undefined) reader.problems.push('SMTP_PASSWORD is required when SMTP_USER is set');
  if (user === undefined && password !== undefined) reader.problems.push('SMTP_USER is required when SMTP_PASSWORD is set');

  const fromText = reader.required('SMTP_FROM', "is required (the sender, e.g. 'OpenVLE <noreply@example.org>')");
  let from: MailAddress = { address: '' };
  if (fromText) {
    const parsed = parseMailAddress(fromText);
    if (parsed) from = parsed;
    else reader.problems.push(`SMTP_FROM must be an address with an optional display name, e.g. 'OpenVLE <noreply@example.org>' (got '${fromText}')`);
  }

  const verifySsl = reader.bool('SMTP_VERIFY_SSL', true);
  const caFile = reader.string('SMTP_CA_FILE');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
        reader.problems.push(`SMTP_CA_FILE must be a PEM file with at least one certificate (${caFile} has none)`);
        ca = undefined;
      }
    } catch (err) {
      reader.problems.push(`SMTP_CA_FILE cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${caFile})`);
    }
  }

  return {
    host,
    port,
    security,
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    from,
    verifySsl,
    ...(ca !== undefined ? { ca, caFile } : {}),
    ...SMTP_DEFAULTS,
  };
}

/** The configuration as `openvle-rq config` shows it: the password masked. */
export function describeSmtpConfig(cfg: SmtpConfig): Record<string, string> {
  return {
    SMTP_HOST: cfg.host,
    SMTP_PORT: String(cfg.port),
    SMTP_SECURITY: cfg.security,
    SMTP_USER: cfg.user ?? '(unset)',
    SMTP_PASSWORD: mask(cfg.password),
    SMTP_FROM: cfg.from.name ? `${cfg.from.name} <${cfg.from.address}>` : cfg.from.address,
    SMTP_VERIFY_SSL: cfg.verifySsl ? 'True' : 'False',
    SMTP_CA_FILE: cfg.caFile ?? '(unset)',
  };
}
