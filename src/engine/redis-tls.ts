/**
 * TLS settings for rediss:// URLs. The query parameters are redis-py's
 * (`Redis.from_url("rediss://...?ssl_ca_certs=ca.pem")`), so one URL serves
 * both the Python producers and this engine; the RQ_TLS_* variables give the
 * same files to every command without putting paths in the URL.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

export class TlsConfigError extends Error {}

/** Query parameters a rediss:// URL may carry, and the environment variable each falls back to. */
const FILE_PARAMS = {
  ssl_ca_certs: 'RQ_TLS_CA_FILE',
  ssl_certfile: 'RQ_TLS_CERT_FILE',
  ssl_keyfile: 'RQ_TLS_KEY_FILE',
} as const;
const FLAG_PARAMS = ['ssl_cert_reqs', 'ssl_check_hostname'] as const;
export const TLS_URL_PARAMS: readonly string[] = [...Object.keys(FILE_PARAMS), ...FLAG_PARAMS];

function readPem(what: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsConfigError(`cannot read ${what} file '${path}': ${code ?? (err as Error).message}`);
  }
}

/**
 * The TLS options for a URL's query (undefined for redis://). Rejects
 * unknown parameters, and TLS parameters on a plain redis:// URL, rather
 * than connecting without what the user asked for.
 */
export function tlsFromQuery(secure: boolean, query: URLSearchParams, env: NodeJS.ProcessEnv = process.env): ConnectionOptions | undefined {
  for (const name of query.keys()) {
    if (!TLS_URL_PARAMS.includes(name)) {
      throw new TlsConfigError(`unknown URL parameter '${name}' (supported: ${TLS_URL_PARAMS.join(', ')})`);
    }
    if (!secure) throw new TlsConfigError(`URL parameter '${name}' needs a rediss:// URL`);
  }
  if (!secure) return undefined;
  const tls: ConnectionOptions = {};
  const file = (param: keyof typeof FILE_PARAMS): string | undefined => {
    const fromUrl = query.get(param);
    if (fromUrl !== null) return fromUrl === '' ? undefined : readPem(param, fromUrl);
    const fromEnv = env[FILE_PARAMS[param]];
    return fromEnv ? readPem(FILE_PARAMS[param], fromEnv) : undefined;
  };
  const ca = file('ssl_ca_certs');
  const cert = file('ssl_certfile');
  const key = file('ssl_keyfile');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) {
    tls.cert = cert;
    // Python's load_cert_chain takes the key from the certificate file when no key file is given.
    tls.key = key ?? cert;
  } else if (key !== undefined) {
    throw new TlsConfigError('a client key (ssl_keyfile / RQ_TLS_KEY_FILE) needs its certificate (ssl_certfile / RQ_TLS_CERT_FILE)');
  }
  const reqs = query.get('ssl_cert_reqs');
  if (reqs !== null) {
    // Python's CERT_OPTIONAL verifies a client's view of the server like CERT_REQUIRED.
    if (reqs === 'none') tls.rejectUnauthorized = false;
    else if (reqs !== 'required' && reqs !== 'optional') {
      throw new TlsConfigError(`ssl_cert_reqs must be none, optional or required, not '${reqs}'`);
    }
  }
  const hostname = query.get('ssl_check_hostname');
  if (hostname !== null) {
    const v = hostname.toLowerCase();
    if (['false', '0', 'no', 'off'].includes(v)) tls.checkServerIdentity = () => undefined;
    else if (!['true', '1', 'yes', 'on'].includes(v)) throw new TlsConfigError(`ssl_check_hostname must be true or false, not '${hostname}'`);
  }
  return tls;
}

/** Node's codes for a server certificate the client does not trust. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * A TLS failure said so that the fix is obvious; undefined when `err` is not
 * one. `tls` is the connection's TLS options (undefined: plain TCP).
 */
export function describeTlsError(err: Error, tls: ConnectionOptions | undefined): string | undefined {
  if (!tls) return undefined;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (UNTRUSTED.has(code)) {
    return `the server's TLS certificate is not trusted (${err.message}); give its CA with ?ssl_ca_certs=FILE or RQ_TLS_CA_FILE`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the server's TLS certificate does not match the host (${err.message})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the server's TLS certificate is not valid now (${err.message})`;
  if (/certificate required|alert number 116/i.test(err.message)) {
    return `the server requires a client certificate (${err.message}); give it with ?ssl_certfile=FILE&ssl_keyfile=FILE or RQ_TLS_CERT_FILE and RQ_TLS_KEY_FILE`;
  }
  // With TLS 1.3 a server that wants a client certificate just drops the
  // connection after the handshake: the client sees only a reset.
  if (!tls.cert && (code === 'ECONNRESET' || code === 'EPIPE')) {
    return `${err.message}: the server closed the TLS connection; if it requires a client certificate, give it with ?ssl_certfile=FILE&ssl_keyfile=FILE or RQ_TLS_CERT_FILE and RQ_TLS_KEY_FILE`;
  }
  return undefined;
}
