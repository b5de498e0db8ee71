/**
 * A redis-server speaking TLS only, on a free port, with certificates made
 * by the openssl CLI at test start: a CA, a server certificate it signs for
 * 127.0.0.1, a client certificate it signs, and a second CA that signed
 * nothing the server uses (for the "untrusted" cases).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis.js';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed neither certificate. */
  otherCa: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=openvle-rq test ${name}`]);
}

function makeSigned(dir: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** Generates the certificates into a new temporary directory. */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'ovrq-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeSigned(dir, 'server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeSigned(dir, 'client', 'openvle-rq test client', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => join(dir, f);
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.crt'),
  };
}

/** A TLS-only redis-server (plain port disabled); `authClients` makes it demand a client certificate. */
export class TlsRedisServer {
  proc: ChildProcess | undefined;
  log = '';
  private constructor(
    readonly port: number,
    readonly certs: TestCerts,
    readonly authClients: boolean,
  ) {}

  /** rediss:// URL with the CA (and the client certificate when the server requires one) as redis-py query parameters. */
  get url(): string {
    const q = new URLSearchParams({ ssl_ca_certs: this.certs.ca });
    if (this.authClients) {
      q.set('ssl_certfile', this.certs.clientCert);
      q.set('ssl_keyfile', this.certs.clientKey);
    }
    return `${this.bareUrl}?${q}`;
  }

  /** rediss:// URL with no TLS parameters. */
  get bareUrl(): string {
    return `rediss://127.0.0.1:${this.port}`;
  }

  static async start(certs: TestCerts, opts: { authClients?: boolean } = {}): Promise<TlsRedisServer> {
    const s = new TlsRedisServer(await freePort(), certs, opts.authClients ?? false);
    await s.start();
    return s;
  }

  private async start(): Promise<void> {
    const c = this.certs;
    this.proc = spawn(
      'redis-server',
      [
        '--port', '0',
        '--tls-port', String(this.port),
        '--bind', '127.0.0.1',
        '--tls-cert-file', c.serverCert,
        '--tls-key-file', c.serverKey,
        '--tls-ca-cert-file', c.ca,
        '--tls-auth-clients', this.authClients ? 'yes' : 'no',
        '--save', '',
        '--appendonly', 'no',
        '--dir', c.dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000));
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    const tls = { ca: readFileSync(c.ca), cert: readFileSync(c.clientCert), key: readFileSync(c.clientKey) };
    const deadline = Date.now() + 15_000;
    for (;;) {
      const probe = new Redis({ host: '127.0.0.1', port: this.port, tls, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`TLS redis-server on ${this.port} did not start:\n${this.log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}

export function removeCerts(certs: TestCerts | undefined): void {
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
}
