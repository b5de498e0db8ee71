// The SMTP simulator on its own, spoken to in raw SMTP over a socket, so
// that a simulator bug cannot hide behind a client bug (or the reverse).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, test } from 'node:test';
import { checkScenario, refusedPort, startSmtpSim, type SmtpSim, type SmtpSimOptions } from '../../src/sim/smtp/index.js';
import { until } from '../helpers/util.js';

const sims: SmtpSim[] = [];
after(async () => {
  await Promise.all(sims.map((s) => s.close()));
});
async function sim(opts: SmtpSimOptions = {}): Promise<SmtpSim> {
  const s = await startSmtpSim(opts);
  sims.push(s);
  return s;
}

/** A minimal SMTP client: one reply (all lines of a multi-line one) per call, and the socket's end. */
class Wire {
  private buf = '';
  private waiting: (() => void) | undefined;
  closed = false;
  constructor(public socket: Socket | TLSSocket) {
    this.listen(socket);
  }
  private listen(socket: Socket | TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }
  static async open(port: number, tls = false, ca?: string): Promise<Wire> {
    const socket = tls ? tlsConnect({ host: '127.0.0.1', port, ca }) : netConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new Wire(socket);
  }
  /** The next complete reply, e.g. '250-a\r\n250 b'; undefined if the server closed first. */
  async reply(ms = 10_000): Promise<string | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        return m[0].trimEnd();
      }
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error(`no SMTP reply in ${ms} ms (have ${JSON.stringify(this.buf)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }
  async cmd(line: string): Promise<string | undefined> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }
  /** STARTTLS then a TLS handshake over the same socket, verifying the server against `ca`. */
  async startTls(ca: string): Promise<TLSSocket> {
    assert.match((await this.cmd('STARTTLS'))!, /^220 /);
    const secure = tlsConnect({ socket: this.socket, servername: 'localhost', ca });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.closed = false;
    this.listen(secure);
    return secure;
  }
  end() {
    this.socket.destroy();
  }
}

async function transaction(w: Wire, from: string, rcpts: string[], body: string): Promise<string[]> {
  const replies: string[] = [];
  replies.push((await w.cmd(`MAIL FROM:<${from}>`))!);
  for (const r of rcpts) replies.push((await w.cmd(`RCPT TO:<${r}>`))!);
  replies.push((await w.cmd('DATA'))!);
  w.socket.write(`${body.replace(/\n/g, '\r\n')}\r\n.\r\n`);
  replies.push((await w.reply()) ?? '(closed)');
  return replies;
}

test('accept: a full session is recorded with its envelope, raw content and Message-ID', async () => {
  const s = await sim({ tls: 'none' });
  const w = await Wire.open(s.port);
  assert.match((await w.reply())!, /^220 mail\.sim\.test ESMTP/);
  const ehlo = (await w.cmd('EHLO client.test'))!;
  assert.match(ehlo, /^250-mail\.sim\.test/);
  assert.doesNotMatch(ehlo, /STARTTLS|AUTH/, 'a plain-only server without credentials offers neither');
  const body = 'Message-ID: <mail-7@openvle.test>\nSubject: hello\n\nfirst line\n..dot-stuffed line';
  const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org', 'bob@example.org'], body);
  assert.deepEqual(replies.slice(0, 3).map((r) => r.slice(0, 3)), ['250', '250', '250']);
  assert.match(replies[3]!, /^354 /);
  const queued = /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/.exec(replies[4]!);
  assert.ok(queued, replies[4]);
  assert.match((await w.cmd('QUIT'))!, /^221 /);
  assert.equal(s.messages.length, 1);
  const m = s.messages[0]!;
  assert.equal(m.queueId, queued[1]);
  assert.deepEqual(m.envelope, { from: 'noreply@openvle.test', to: ['alice@example.org', 'bob@example.org'] });
  assert.equal(m.messageId, '<mail-7@openvle.test>');
  assert.equal(m.raw, 'Message-ID: <mail-7@openvle.test>\r\nSubject: hello\r\n\r\nfirst line\r\n.dot-stuffed line\r\n');
  assert.equal(m.secure, false);
  w.end();
});

test('refuse-greeting: 421 instead of 220, then the server closes the connection', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'refuse-greeting' } });
  const w = await Wire.open(s.port);
  assert.match((await w.reply())!, /^421 mail\.sim\.test Service not available/);
  await until(() => w.closed);
  s.setScenario({ kind: 'refuse-greeting', code: 554 });
  const w2 = await Wire.open(s.port);
  assert.match((await w2.reply())!, /^554 /);
  assert.deepEqual(s.rejections.map((r) => [r.stage, r.code]), [['greeting', 421], ['greeting', 554]]);
});

test('greylist: the first RCPT per sender/recipient gets 451, a later attempt is accepted', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'greylist' } });
  const w = await Wire.open(s.port);
  await w.reply();
  await w.cmd('EHLO client.test');
  await w.cmd('MAIL FROM:<noreply@openvle.test>');
  assert.match((await w.cmd('RCPT TO:<alice@example.org>'))!, /^451 4\.7\.1 <alice@example\.org>: Recipient address rejected: Greylisted/);
  assert.match((await w.cmd('RSET'))!, /^250/);
  const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org', 'carol@example.org'], 'Subject: x\n\nx');
  assert.match(replies[1]!, /^250 /, 'the retried pair is accepted');
  assert.match(replies[2]!, /^451 /, 'a pair never seen is greylisted');
  assert.match(replies[4]!, /^250 /);
  assert.deepEqual(s.messages[0]!.envelope.to, ['alice@example.org']);
  w.end();
});

test('greylist with retryAfterMs: attempts before the delay are deferred again', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'greylist', code: 450, retryAfterMs: 60_000 } });
  const w = await Wire.open(s.port);
  await w.reply();
  await w.cmd('EHLO client.test');
  await w.cmd('MAIL FROM:<noreply@openvle.test>');
  assert.match((await w.cmd('RCPT TO:<alice@example.org>'))!, /^450 4\.2\.0 /);
  assert.match((await w.cmd('RCPT TO:<alice@example.org>'))!, /^450 /);
  w.end();
});

test('reject-recipients: 550 for one of several recipients, the others go through', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'reject-recipients', addresses: ['Bob@Example.org'] } });
  const w = await Wire.open(s.port);
  await w.reply();
  await w.cmd('EHLO client.test');
  const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org', 'bob@example.org'], 'Subject: x\n\nx');
  assert.match(replies[1]!, /^250 /);
  assert.match(replies[2]!, /^550 5\.1\.1 <bob@example\.org>: Recipient address rejected: User unknown/);
  assert.match(replies[4]!, /^250 /);
  assert.deepEqual(s.messages[0]!.envelope.to, ['alice@example.org']);
  assert.deepEqual(s.rejections.map((r) => [r.stage, r.code, r.address]), [['rcpt', 550, 'bob@example.org']]);
  w.end();
});

for (const code of [552, 554] as const) {
  test(`reject-data: ${code} after the message was sent`, async () => {
    const s = await sim({ tls: 'none', scenario: { kind: 'reject-data', code } });
    const w = await Wire.open(s.port);
    await w.reply();
    await w.cmd('EHLO client.test');
    const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org'], 'Subject: x\n\nx');
    assert.match(replies[2]!, /^354 /);
    assert.match(replies[3]!, new RegExp(`^${code} 5\\.`));
    assert.equal(s.messages.length, 0);
    w.end();
  });
}

test('drop: the connection is cut after the message, with no reply to DATA', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'drop' } });
  const w = await Wire.open(s.port);
  await w.reply();
  await w.cmd('EHLO client.test');
  const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org'], 'Subject: x\n\nx');
  assert.equal(replies[3], '(closed)');
  assert.equal(s.messages.length, 0);
  assert.deepEqual(s.rejections.map((r) => [r.stage, r.code]), [['data', 0]]);

  s.setScenario({ kind: 'drop', at: 'rcpt' });
  const w2 = await Wire.open(s.port);
  await w2.reply();
  await w2.cmd('EHLO client.test');
  await w2.cmd('MAIL FROM:<noreply@openvle.test>');
  assert.equal(await w2.cmd('RCPT TO:<alice@example.org>'), undefined);
});

test('silent: TCP is accepted but no greeting comes; close() cuts the session', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'silent' } });
  const w = await Wire.open(s.port);
  await until(() => s.connections === 1);
  // An absence can only be checked over a window: a real greeting arrives within milliseconds.
  await assert.rejects(w.reply(1_500), /no SMTP reply/);
  await s.close();
  await until(() => w.closed);
});

test('STARTTLS: AUTH works only after TLS; 530 without it, 535 for bad credentials, 235 for good ones', async () => {
  const s = await sim({ tls: 'starttls', auth: { username: 'mailer', password: 'S3cret-pw' } });
  const w = await Wire.open(s.port);
  const token = (user: string, pw: string) => Buffer.from(`\u0000${user}\u0000${pw}`).toString('base64');
  await w.reply();
  assert.match((await w.cmd('EHLO client.test'))!, /STARTTLS/);
  assert.match((await w.cmd(`AUTH PLAIN ${token('mailer', 'S3cret-pw')}`))!, /^538 /, 'no credentials in clear text');
  const secure = await w.startTls(s.ca);
  assert.equal(secure.authorized, true, 'the certificate verifies against the simulator CA');
  const ehlo = (await w.cmd('EHLO client.test'))!;
  assert.match(ehlo, /AUTH PLAIN LOGIN/);
  assert.match((await w.cmd('MAIL FROM:<noreply@openvle.test>'))!, /^530 /);
  assert.match((await w.cmd(`AUTH PLAIN ${token('mailer', 'wrong')}`))!, /^535 5\.7\.8 /);
  assert.match((await w.cmd(`AUTH PLAIN ${token('mailer', 'S3cret-pw')}`))!, /^235 /);
  const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org'], 'Subject: x\n\nx');
  assert.match(replies.at(-1)!, /^250 /);
  assert.equal(s.messages[0]!.user, 'mailer');
  assert.equal(s.messages[0]!.secure, true);
  w.end();
});

test('auth-unavailable: AUTH gets 454 whatever the credentials', async () => {
  const s = await sim({ tls: 'none', allowInsecureAuth: true, auth: { username: 'u', password: 'p' }, scenario: { kind: 'auth-unavailable' } });
  const w = await Wire.open(s.port);
  await w.reply();
  await w.cmd('EHLO client.test');
  assert.match((await w.cmd(`AUTH PLAIN ${Buffer.from('\u0000u\u0000p').toString('base64')}`))!, /^454 4\.7\.0 /);
  w.end();
});

test('implicit TLS: the greeting comes over TLS with the simulator certificate', async () => {
  const s = await sim({ tls: 'implicit' });
  const w = await Wire.open(s.port, true, s.ca);
  assert.equal((w.socket as TLSSocket).authorized, true);
  assert.match((await w.reply())!, /^220 /);
  assert.doesNotMatch((await w.cmd('EHLO client.test'))!, /STARTTLS/, 'already encrypted');
  const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org'], 'Subject: x\n\nx');
  assert.match(replies.at(-1)!, /^250 /);
  assert.equal(s.messages[0]!.secure, true);
  w.end();
});

test('refusedPort: nothing listens there', async () => {
  const port = await refusedPort();
  await assert.rejects(
    new Promise((resolve, reject) => {
      const sock = netConnect(port, '127.0.0.1', () => resolve(sock));
      sock.once('error', reject);
    }),
    { code: 'ECONNREFUSED' },
  );
});

test('a bad scenario is refused with a clear error and the old one stays', async () => {
  const s = await sim({ tls: 'none' });
  assert.throws(() => s.setScenario({ kind: 'nope' } as never), /unknown SMTP scenario "nope"/);
  assert.throws(() => s.setScenario({ kind: 'reject-recipients', addresses: [] }), /at least one address/);
  assert.throws(() => s.setScenario({ kind: 'reject-data', code: 250 }), /between 400 and 599/);
  assert.throws(() => checkScenario({ kind: 'refuse-greeting', code: 500 as never }), /421 or 554/);
  assert.deepEqual(s.scenario, { kind: 'accept' });
});

test('size: a message over the SIZE limit gets 552 after DATA', async () => {
  const s = await sim({ tls: 'none', size: 1024 });
  const w = await Wire.open(s.port);
  await w.reply();
  assert.match((await w.cmd('EHLO client.test'))!, /SIZE 1024/);
  const replies = await transaction(w, 'noreply@openvle.test', ['alice@example.org'], `Subject: big\n\n${'x'.repeat(2000)}`);
  assert.match(replies[3]!, /^552 /);
  assert.equal(s.messages.length, 0);
  w.end();
});

test('main.ts: started by hand it listens, reports what it accepts, and refuses bad arguments', async () => {
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/sim/smtp/main.ts', '--tls', 'ssl'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--tls must be none, starttls or implicit \(got 'ssl'\)/);

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/sim/smtp/main.ts', '--port', '0', '--tls', 'none'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(await until(() => (/listening on 127\.0\.0\.1:\d+/.test(out) ? out : ''), 30_000))![1]);
    const w = await Wire.open(port);
    await w.reply();
    await w.cmd('EHLO client.test');
    await transaction(w, 'noreply@openvle.test', ['alice@example.org'], 'Message-ID: <by-hand@openvle.test>\nSubject: x\n\nx');
    w.end();
    await until(() => out.includes('accepted'), 10_000);
    assert.match(out, /accepted [0-9A-F]+ <by-hand@openvle\.test> from <noreply@openvle\.test> to <alice@example\.org>/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});
