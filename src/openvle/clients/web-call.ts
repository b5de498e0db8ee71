import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

/** How a client checks the server's certificate. */
export interface TlsOptions {
  /** Off only when the configuration says so (…_VERIFY_SSL=False). */
  verify: boolean;
  /** PEM file of the CA that signed the server's certificate; trusted instead of the bundled CA list (Node's `ca`). */
  caFile?: string;
}

/** An undici dispatcher with the TLS options; one per client, so each keeps its own connections. */
export function makeAgent(tls: TlsOptions): Agent {
  const ca = tls.caFile ? readFileSync(tls.caFile, 'utf8') : undefined;
  return new Agent({ connect: { rejectUnauthorized: tls.verify, ...(ca ? { ca } : {}) } });
}

export interface WebAnswer {
  status: number;
  contentType: string;
  text: string;
}

/** The call never got an HTTP answer: a timeout, a refused or cut connection, or a certificate the client rejected. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'network' | 'tls',
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR_CONNECT_TIMEOUT') return code;
  }
  return (err as { code?: string }).code;
}

/**
 * One HTTP exchange with a deadline covering connect, headers and body.
 * The caller's signal aborting rejects with the signal's reason (the job
 * was cancelled: nothing to classify); the deadline passing rejects with a
 * TransportError of kind 'timeout'.
 */
export async function webCall(
  agent: Agent,
  req: { method: string; url: string; headers?: Record<string, string>; body?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<WebAnswer> {
  req.signal?.throwIfAborted();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new TransportError(`no answer within ${req.timeoutMs} ms`, 'timeout')), req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, deadline.signal]) : deadline.signal;
  try {
    const res = await request(req.url, {
      method: req.method as 'GET',
      headers: req.headers,
      body: req.body,
      dispatcher: agent,
      signal,
    });
    const text = await res.body.text();
    const ctype = res.headers['content-type'];
    return { status: res.statusCode, contentType: Array.isArray(ctype) ? ctype.join(', ') : (ctype ?? ''), text };
  } catch (err) {
    if (req.signal?.aborted) throw req.signal.reason;
    if (deadline.signal.aborted) throw deadline.signal.reason;
    const code = codeOf(err);
    const msg = (err as Error).message;
    if (code && TLS_CODES.has(code)) throw new TransportError(`TLS: ${code} (${msg})`, 'tls', code, { cause: err });
    throw new TransportError(`${code ?? 'network error'}: ${msg}`, 'network', code, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
