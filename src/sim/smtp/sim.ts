import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simCertificate } from '../tls.js';
import { checkScenario, replyText, type SmtpScenario } from './scenario.js';

/**
 * How the simulator secures its port, as real submission servers do:
 * 'starttls' (port 587: plain greeting, STARTTLS offered), 'implicit'
 * (port 465: TLS from the first byte), 'none' (plain only, STARTTLS not
 * offered). Certificates come from `simCertificate()`.
 */
export type SmtpSimTls = 'none' | 'starttls' | 'implicit';

export interface SmtpSimOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default 'starttls'. */
  tls?: SmtpSimTls;
  /**
   * Credentials the server accepts. When set, AUTH is required before MAIL
   * (530 otherwise) and wrong credentials get 535. AUTH is only offered
   * over TLS, as on real servers, unless `allowInsecureAuth` is set.
   */
  auth?: { username: string; password: string };
  allowInsecureAuth?: boolean;
  /** Default { kind: 'accept' }. */
  scenario?: SmtpScenario;
  /** The server's name in its greeting. Default 'mail.sim.test'. */
  name?: string;
  /** SIZE limit in bytes; an oversized message gets 552 after DATA. Default: no limit. */
  size?: number;
  /** Idle time after which the server says 421 and closes. Default 60 s, as smtp-server. */
  socketTimeoutMs?: number;
}

/** A message the server accepted (replied 250 to its DATA). */
export interface SimMessage {
  /** The queue id given in the 250 reply. */
  queueId: string;
  envelope: { from: string; to: string[] };
  /** The message as received: headers and body, CRLF line ends, dot-unstuffed. */
  raw: string;
  /** The Message-ID header, with its angle brackets, if the message had one. */
  messageId?: string;
  /** The authenticated user, if the session authenticated. */
  user?: string;
  /** Whether the session was encrypted (STARTTLS or implicit TLS). */
  secure: boolean;
  receivedAt: Date;
}

/**
 * A refusal the scenario or the credentials produced, or a cut connection;
 * for tests that count attempts. smtp-server's own protocol replies (530
 * before AUTH, 538 AUTH without TLS, 5xx syntax errors) are not listed.
 */
export interface SimRejection {
  stage: 'greeting' | 'auth' | 'mail' | 'rcpt' | 'data';
  /** The reply code, or 0 when the connection was cut instead. */
  code: number;
  address?: string;
  at: Date;
}

export interface SmtpSim {
  host: string;
  port: number;
  tls: SmtpSimTls;
  /** PEM of the server's self-signed certificate: the CA a verifying client needs. */
  ca: string;
  /** Accepted messages, oldest first. */
  readonly messages: SimMessage[];
  /** Refusals and cut connections, oldest first. */
  readonly rejections: SimRejection[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  setScenario(scenario: SmtpScenario): void;
  readonly scenario: SmtpScenario;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

function headerValue(raw: string, name: string): string | undefined {
  const end = raw.search(/\r?\n\r?\n/);
  const head = (end === -1 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im');
  return re.exec(head)?.[1]?.trim();
}

function smtpError(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

/**
 * Starts a simulated SMTP server on 127.0.0.1, a real `smtp-server`
 * speaking the protocol over TCP, whose replies follow the scenario set
 * (external-apis.md §4.4).
 */
export async function startSmtpSim(opts: SmtpSimOptions = {}): Promise<SmtpSim> {
  const host = opts.host ?? '127.0.0.1';
  const tlsMode = opts.tls ?? 'starttls';
  const name = opts.name ?? 'mail.sim.test';
  const cert = simCertificate();
  let scenario: SmtpScenario = opts.scenario ?? { kind: 'accept' };
  checkScenario(scenario);
  const messages: SimMessage[] = [];
  const rejections: SimRejection[] = [];
  /** Greylisting memory: first attempt per "sender|recipient". */
  const greylist = new Map<string, number>();
  /** Raw sockets by the client's address:port, to cut a session from a handler. */
  const sockets = new Map<string, Socket>();
  let connections = 0;

  const reject = (stage: SimRejection['stage'], code: number, address?: string) =>
    rejections.push({ stage, code, address, at: new Date() });

  const cut = (session: SMTPServerSession, stage: SimRejection['stage']) => {
    reject(stage, 0);
    sockets.get(`${session.remoteAddress}:${session.remotePort}`)?.destroy();
  };

  const server = new SMTPServer({
    name,
    secure: tlsMode === 'implicit',
    key: cert.key,
    cert: cert.cert,
    disabledCommands: [...(tlsMode === 'none' ? ['STARTTLS'] : []), ...(opts.auth ? [] : ['AUTH'])],
    authOptional: !opts.auth,
    allowInsecureAuth: opts.allowInsecureAuth ?? false,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    size: opts.size,
    rejectOversized: opts.size !== undefined,
    socketTimeout: opts.socketTimeoutMs ?? 60_000,
    closeTimeout: 1_000,
    logger: false,

    onConnect(session, callback) {
      const s = scenario;
      if (s.kind === 'silent') return; // never answer: the client's greeting timeout must fire
      if (s.kind === 'refuse-greeting') {
        const code = s.code ?? 421;
        reject('greeting', code);
        return callback(smtpError(code, s.text ?? (code === 421 ? replyText.greeting421(name) : replyText.greeting554(name))));
      }
      callback();
    },

    onAuth(auth: SMTPServerAuthentication, _session, callback) {
      if (scenario.kind === 'auth-unavailable') {
        reject('auth', 454);
        return callback(smtpError(454, replyText.authUnavailable));
      }
      const ok = opts.auth && auth.username === opts.auth.username && auth.password === opts.auth.password;
      if (!ok) {
        reject('auth', 535);
        return callback(smtpError(535, replyText.authFailed));
      }
      callback(null, { user: auth.username });
    },

    onMailFrom(_address, session, callback) {
      if (scenario.kind === 'drop' && scenario.at === 'mail') return cut(session, 'mail');
      callback();
    },

    onRcptTo(address, session, callback) {
      const s = scenario;
      const rcpt = address.address;
      if (s.kind === 'drop' && s.at === 'rcpt') return cut(session, 'rcpt');
      if (s.kind === 'greylist') {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const key = `${from.toLowerCase()}|${rcpt.toLowerCase()}`;
        const first = greylist.get(key);
        const now = Date.now();
        if (first === undefined || now - first < (s.retryAfterMs ?? 0)) {
          if (first === undefined) greylist.set(key, now);
          const code = s.code ?? 451;
          reject('rcpt', code, rcpt);
          return callback(smtpError(code, replyText.greylisted(code, rcpt)));
        }
      }
      if (s.kind === 'reject-recipients' && s.addresses.some((a) => a.toLowerCase() === rcpt.toLowerCase())) {
        const code = s.code ?? 550;
        reject('rcpt', code, rcpt);
        return callback(smtpError(code, s.text ?? replyText.recipient(code, rcpt)));
      }
      callback();
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const s = scenario;
        if (s.kind === 'drop' && (s.at ?? 'data') === 'data') return cut(session, 'data');
        if (stream.sizeExceeded) {
          reject('data', 552);
          return callback(smtpError(552, replyText.data(552)));
        }
        if (s.kind === 'reject-data') {
          reject('data', s.code);
          return callback(smtpError(s.code, s.text ?? replyText.data(s.code)));
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const queueId = randomBytes(5).toString('hex').toUpperCase();
        const env = session.envelope;
        messages.push({
          queueId,
          envelope: { from: env.mailFrom ? env.mailFrom.address : '', to: env.rcptTo.map((r) => r.address) },
          raw,
          messageId: headerValue(raw, 'Message-ID'),
          user: typeof session.user === 'string' ? session.user : undefined,
          secure: session.secure,
          receivedAt: new Date(),
        });
        callback(null, `2.0.0 Ok: queued as ${queueId}`);
      });
    },
  });

  // The raw sockets, so that close() can cut sessions the server would
  // otherwise wait for (a silent scenario never ends one by itself).
  server.server.on('connection', (socket: Socket) => {
    connections++;
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    sockets.set(key, socket);
    socket.on('close', () => sockets.delete(key));
  });
  server.on('error', () => {
    // a client that resets its connection is the normal case in these scenarios
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('SMTP simulator: no TCP address');

  return {
    host,
    port: address.port,
    tls: tlsMode,
    ca: cert.cert,
    messages,
    rejections,
    get connections() {
      return connections;
    },
    get scenario() {
      return scenario;
    },
    setScenario(next: SmtpScenario) {
      checkScenario(next);
      scenario = next;
      if (next.kind === 'greylist') greylist.clear();
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets.values()) s.destroy();
      });
    },
  };
}
