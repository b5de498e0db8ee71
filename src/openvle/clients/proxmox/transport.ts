import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { ProxmoxConfig } from './config.js';

/** Thrown (as a connection error) when the server's certificate does not match PVE_FINGERPRINT. */
export class FingerprintMismatchError extends Error {
  readonly code = 'ERR_PVE_FINGERPRINT_MISMATCH';
  constructor(got: string | undefined) {
    super(`server certificate fingerprint ${got ?? '(none)'} does not match PVE_FINGERPRINT`);
    this.name = 'FingerprintMismatchError';
  }
}

/**
 * The undici dispatcher carrying the configured TLS policy, in order of
 * precedence: a pinned fingerprint (the chain is not checked, the peer's
 * certificate must hash to the pin — Proxmox' usual self-signed setup),
 * verification off, a CA file, or the system CAs.
 */
export function proxmoxDispatcher(config: ProxmoxConfig, connectTimeoutMs: number): Dispatcher {
  if (config.fingerprint) {
    const pin = config.fingerprint.toUpperCase();
    // No session resumption: a resumed TLS session carries no peer certificate to check against the pin.
    const base = buildConnector({ rejectUnauthorized: false, timeout: connectTimeoutMs, maxCachedSessions: 0 });
    const connect: buildConnector.connector = (opts, callback) => {
      base(opts, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('no socket'), null);
        if (opts.protocol !== 'https:') return callback(null, socket);
        const cert = (socket as TLSSocket).getPeerCertificate?.();
        const got = cert && 'fingerprint256' in cert ? cert.fingerprint256 : undefined;
        if (got?.toUpperCase() !== pin) {
          socket.destroy();
          return callback(new FingerprintMismatchError(got), null);
        }
        callback(null, socket);
      });
    };
    return new Agent({ connect });
  }
  if (!config.verifySsl) return new Agent({ connect: { rejectUnauthorized: false, timeout: connectTimeoutMs } });
  if (config.caFile) {
    return new Agent({ connect: { ca: readFileSync(config.caFile), rejectUnauthorized: true, timeout: connectTimeoutMs } });
  }
  return new Agent({ connect: { rejectUnauthorized: true, timeout: connectTimeoutMs } });
}
