import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate for a simulator's HTTPS port. */
export interface SimCertificate {
  /** PEM of the certificate; also the CA to trust, since it signs itself. */
  cert: string;
  key: string;
  /** SHA-256 fingerprint as Proxmox shows it: upper-case hex pairs joined by colons. */
  fingerprint256: string;
}

let cached: SimCertificate | undefined;

/**
 * Generates (once per process) a self-signed certificate for 127.0.0.1 and
 * localhost with the openssl command line tool: Node can use certificates
 * but has no API to make one, and a simulator that speaks real TLS is what
 * lets the clients' verify / CA file / fingerprint options be tested.
 */
export function simCertificate(): SimCertificate {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'openvle-sim-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyPath, '-out', certPath, '-days', '30', '-subj', '/CN=openvle-sim',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext', 'basicConstraints=critical,CA:TRUE',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    cached = { cert, key, fingerprint256: new X509Certificate(cert).fingerprint256 };
    return cached;
  } catch (err) {
    throw new Error(`cannot generate the simulators' TLS certificate with openssl: ${(err as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SHA-256 fingerprint of a DER certificate in Proxmox' notation (AA:BB:...). */
export function fingerprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}
