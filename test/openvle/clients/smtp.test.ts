// The SMTP client against the SMTP simulator (real smtp-server over TCP):
// every scenario of external-apis.md §4.4 and the class each outcome gets.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Job, Queue, Retry, UnrecoverableError, type Logger } from '../../../src/index.js';
import { ExternalError, PermanentExternalError, failureClassOf } from '../../../src/openvle/clients/failure.js';
import {
  SmtpClient,
  classifySmtpError,
  describeSmtpConfig,
  mailMessageId,
  parseMailAddress,
  smtpConfigFromEnv,
  type OutgoingMail,
  type SmtpConfig,
} from '../../../src/openvle/clients/smtp/index.js';
import { ConfigError, EnvReader, type Env } from '../../../src/openvle/config/env.js';
import { refusedPort, startSmtpSim, type SmtpSim, type SmtpSimOptions } from '../../../src/sim/smtp/index.js';
import { engineFixture, tasks } from '../../helpers/engine.js';
import { uniq, until } from '../../helpers/util.js';

const PASSWORD = 'Pw-7f3q!zX9';
const dir = mkdtempSync(join(tmpdir(), 'openvle-smtp-test-'));
const open: Array<{ close(): unknown }> = [];
after(async () => {
  for (const o of open.splice(0)) await o.close();
  rmSync(dir, { recursive: true, force: true });
});

async function sim(opts: SmtpSimOptions = {}): Promise<SmtpSim> {
  const s = await startSmtpSim(opts);
  open.push(s);
  return s;
}

/** The configuration as OpenVLE's .env would give it, pointed at `s`, with short timeouts. */
function config(s: { port: number; ca?: string }, env: Env = {}, over: Partial<SmtpConfig> = {}): SmtpConfig {
  let caEnv: Env = {};
  if (s.ca && !('SMTP_CA_FILE' in env) && env.SMTP_VERIFY_SSL === undefined) {
    const caFile = join(dir, `${uniq('ca')}.pem`);
    writeFileSync(caFile, s.ca);
    caEnv = { SMTP_CA_FILE: caFile };
  }
  const reader = new EnvReader({
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(s.port),
    SMTP_FROM: '"OpenVLE" <noreply@openvle.test>',
    ...caEnv,
    ...env,
  });
  const cfg = smtpConfigFromEnv(reader);
  reader.check();
  return { ...cfg, connectionTimeoutMs: 10_000, greetingTimeoutMs: 10_000, socketTimeoutMs: 10_000, ...over };
}

function logLines(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => void lines.push(m);
  return { lines, debug: push, info: push, warning: push, error: push };
}

function client(cfg: SmtpConfig, logger?: Logger): SmtpClient {
  const c = new SmtpClient(cfg, { logger });
  open.push(c);
  return c;
}

let seq = 0;
function mail(over: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    to: 'alice@example.org',
    subject: 'Your lab is ready',
    html: '<p>Hello Alice</p>',
    text: 'Hello Alice',
    messageId: mailMessageId(++seq, 'noreply@openvle.test'),
    ...over,
  };
}

async function failureOf(p: Promise<unknown>): Promise<ExternalError | PermanentExternalError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ExternalError || err instanceof PermanentExternalError, `not a classified error: ${String(err)}`);
    return err;
  }
  assert.fail('the send succeeded');
}

// ---------------------------------------------------------------- configuration

test('config: defaults, quotes as in .env files, and the From address with its display name', () => {
  const r = new EnvReader({ SMTP_HOST: '"mail.example.org"', SMTP_FROM: '"OpenVLE Lab <noreply@example.org>"' });
  const cfg = smtpConfigFromEnv(r);
  r.check();
  assert.equal(cfg.host, 'mail.example.org');
  assert.equal(cfg.port, 587);
  assert.equal(cfg.security, 'starttls');
  assert.equal(cfg.verifySsl, true);
  assert.equal(cfg.user, undefined);
  assert.deepEqual(cfg.from, { address: 'noreply@example.org', name: 'OpenVLE Lab' });

  const tls = smtpConfigFromEnv(new EnvReader({ SMTP_HOST: 'h', SMTP_FROM: 'a@b.org', SMTP_SECURITY: 'TLS', SMTP_VERIFY_SSL: 'false' }));
  assert.equal(tls.port, 465, 'implicit TLS defaults to its own port');
  assert.equal(tls.verifySsl, false);
});

test('config: every bad variable is reported at once, one line each, and the password never', () => {
  const r = new EnvReader({
    SMTP_HOST: 'smtp://mail.example.org:25',
    SMTP_PORT: '70000',
    SMTP_SECURITY: 'ssl',
    SMTP_PASSWORD: PASSWORD,
    SMTP_FROM: 'OpenVLE',
    SMTP_VERIFY_SSL: 'maybe',
    SMTP_CA_FILE: join(dir, 'missing.pem'),
  });
  smtpConfigFromEnv(r);
  const err = (() => {
    try {
      r.check();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof ConfigError);
  assert.deepEqual(
    err.problems.map((p) => p.split(' ')[0]),
    ['SMTP_HOST', 'SMTP_SECURITY', 'SMTP_PORT', 'SMTP_USER', 'SMTP_FROM', 'SMTP_VERIFY_SSL', 'SMTP_CA_FILE'],
  );
  assert.ok(!err.message.includes(PASSWORD));
  assert.match(err.message, /SMTP_CA_FILE cannot be read: ENOENT/);

  const missing = new EnvReader({});
  smtpConfigFromEnv(missing);
  assert.deepEqual(missing.problems.map((p) => p.split(' ')[0]), ['SMTP_HOST', 'SMTP_FROM']);
});

test('config: SMTP_FROM forms', () => {
  assert.deepEqual(parseMailAddress('noreply@example.org'), { address: 'noreply@example.org' });
  assert.deepEqual(parseMailAddress('<noreply@example.org>'), { address: 'noreply@example.org' });
  assert.deepEqual(parseMailAddress('OpenVLE <noreply@example.org>'), { address: 'noreply@example.org', name: 'OpenVLE' });
  assert.deepEqual(parseMailAddress('"Lab, Team \\"A\\"" <lab@mail.example.org>'), { address: 'lab@mail.example.org', name: 'Lab, Team "A"' });
  for (const bad of ['OpenVLE', 'a@', '@b.org', 'a@b.org, c@d.org', 'a b@c.org', 'x <a@b..org>', 'a@b.org>', '<a@-b.org>']) {
    assert.equal(parseMailAddress(bad), undefined, bad);
  }
});

test('config: describeSmtpConfig masks the password', () => {
  const cfg = smtpConfigFromEnv(new EnvReader({ SMTP_HOST: 'h', SMTP_FROM: 'a@b.org', SMTP_USER: 'u', SMTP_PASSWORD: PASSWORD }));
  const shown = describeSmtpConfig(cfg);
  assert.equal(shown.SMTP_PASSWORD, '***');
  assert.ok(!JSON.stringify(shown).includes(PASSWORD));
});

test('mailMessageId: <mail-<id>@<from-domain>>, and ids that would break the header are refused', () => {
  assert.equal(mailMessageId(42, 'NoReply@OpenVLE.Example.org'), '<mail-42@openvle.example.org>');
  assert.equal(client(config({ port: 25 }, { SMTP_SECURITY: 'none' })).messageIdFor('a-1'), '<mail-a-1@openvle.test>');
  assert.throws(() => mailMessageId('4 2>', 'a@b.org'), /letters, digits/);
});

// ---------------------------------------------------------------- outcomes

test('accept over STARTTLS verified with SMTP_CA_FILE: the message arrives with its Message-ID, From and envelope', async () => {
  const s = await sim({ tls: 'starttls', auth: { username: 'mailer', password: PASSWORD } });
  const c = client(config(s, { SMTP_USER: 'mailer', SMTP_PASSWORD: PASSWORD }));
  const m = mail({ headers: { 'Auto-Submitted': 'auto-generated' }, replyTo: 'teacher@example.org' });
  const res = await c.send(m);
  assert.equal(res.messageId, m.messageId);
  assert.deepEqual(res.accepted, ['alice@example.org']);
  assert.deepEqual(res.rejected, []);
  assert.match(res.response, /^250 2\.0\.0 Ok: queued as /);
  assert.equal(s.messages.length, 1);
  const got = s.messages[0]!;
  assert.equal(got.messageId, m.messageId);
  assert.deepEqual(got.envelope, { from: 'noreply@openvle.test', to: ['alice@example.org'] });
  assert.equal(got.user, 'mailer');
  assert.equal(got.secure, true);
  assert.match(got.raw, /^From: OpenVLE <noreply@openvle\.test>\r$/m);
  assert.match(got.raw, /^Reply-To: teacher@example\.org\r$/m);
  assert.match(got.raw, /^Auto-Submitted: auto-generated\r$/m);
  assert.match(got.raw, /^Subject: Your lab is ready\r$/m);
  assert.match(got.raw, /<p>Hello Alice<\/p>/);
});

test('greylisting: the first attempt is transient (451), the retry is delivered', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'greylist' } });
  const c = client(config(s, { SMTP_SECURITY: 'none' }));
  const m = mail();
  const err = await failureOf(c.send(m));
  assert.ok(err instanceof ExternalError && !(err instanceof UnrecoverableError));
  assert.equal(err.failureClass, 'transient');
  assert.equal(err.details.status, 451);
  assert.equal(err.details.code, '4.7.1');
  assert.equal(err.details.operation, 'RCPT TO');
  const res = await c.send(m);
  assert.deepEqual(res.accepted, ['alice@example.org']);
  assert.deepEqual(s.messages.map((x) => x.messageId), [m.messageId]);
});

const fx = engineFixture();

test('through the queue: greylisting is retried by the retry policy, 550 fails at once with retries left', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'greylist' } });
  const c = client(config(s, { SMTP_SECURITY: 'none' }));
  const name = uniq('mails');
  const q = new Queue(name, fx.redis);
  let attempts = 0;
  const registry = tasks({
    'mails.send': async (id: number, to: string) => {
      attempts++;
      await c.send(mail({ to, messageId: mailMessageId(id, 'noreply@openvle.test') }));
    },
  });
  const grey = await q.enqueue('mails.send', { args: [1001, 'alice@example.org'], retry: new Retry({ max: 3 }) });
  await fx.worker([name], registry, { burst: true }).done;
  assert.equal(await (await Job.fetch(fx.redis, grey.id)).getStatus(), 'finished');
  assert.equal(attempts, 2);
  assert.deepEqual(s.messages.map((m) => m.messageId), ['<mail-1001@openvle.test>']);

  s.setScenario({ kind: 'reject-recipients', addresses: ['nobody@example.org'] });
  attempts = 0;
  const bad = await q.enqueue('mails.send', { args: [1002, 'nobody@example.org'], retry: new Retry({ max: 3 }) });
  await fx.worker([name], registry, { burst: true }).done;
  const job = await Job.fetch(fx.redis, bad.id);
  assert.equal(await job.getStatus(), 'failed');
  assert.equal(attempts, 1, 'a permanent failure is not retried');
  assert.equal(job.retriesLeft, 3);
});

test('550 for the only recipient: permanent, an UnrecoverableError', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'reject-recipients', addresses: ['alice@example.org'] } });
  const err = await failureOf(client(config(s, { SMTP_SECURITY: 'none' })).send(mail()));
  assert.ok(err instanceof PermanentExternalError && err instanceof UnrecoverableError);
  assert.equal(err.failureClass, 'permanent');
  assert.equal(err.details.status, 550);
  assert.equal(err.details.code, '5.1.1');
  assert.match(err.message, /User unknown/);
});

test('550 for one of several recipients: the send succeeds and reports the refused one with its class', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'reject-recipients', addresses: ['bob@example.org'] } });
  const log = logLines();
  const res = await client(config(s, { SMTP_SECURITY: 'none' }), log).send(mail({ to: ['alice@example.org', 'bob@example.org'] }));
  assert.deepEqual(res.accepted, ['alice@example.org']);
  assert.equal(res.rejected.length, 1);
  assert.equal(res.rejected[0]!.address, 'bob@example.org');
  assert.equal(res.rejected[0]!.status, 550);
  assert.equal(res.rejected[0]!.failureClass, 'permanent');
  assert.deepEqual(s.messages[0]!.envelope.to, ['alice@example.org']);
  assert.ok(log.lines.some((l) => l.includes('bob@example.org') && l.includes('550')), log.lines.join('\n'));
});

test('one recipient greylisted, one unknown: all refused, the deferral decides (transient)', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'greylist' } });
  const err = await failureOf(client(config(s, { SMTP_SECURITY: 'none' })).send(mail({ to: ['alice@example.org', 'bob@example.org'] })));
  assert.equal(err.failureClass, 'transient');
});

test('AUTH: 535 on bad credentials and 530 without credentials are permanent_config; 454 is transient', async () => {
  const s = await sim({ tls: 'starttls', auth: { username: 'mailer', password: 'the-right-one' } });
  const bad = await failureOf(client(config(s, { SMTP_USER: 'mailer', SMTP_PASSWORD: PASSWORD })).send(mail()));
  assert.ok(bad instanceof PermanentExternalError);
  assert.equal(bad.failureClass, 'permanent_config');
  assert.equal(bad.details.status, 535);

  const none = await failureOf(client(config(s)).send(mail()));
  assert.equal(none.failureClass, 'permanent_config');
  assert.equal(none.details.status, 530);

  s.setScenario({ kind: 'auth-unavailable' });
  const later = await failureOf(client(config(s, { SMTP_USER: 'mailer', SMTP_PASSWORD: 'the-right-one' })).send(mail()));
  assert.equal(later.failureClass, 'transient');
  assert.equal(later.details.status, 454);
  assert.equal(s.messages.length, 0);
});

test('greeting refusals: 421 is transient, 554 permanent', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'refuse-greeting' } });
  const c = client(config(s, { SMTP_SECURITY: 'none' }));
  const busy = await failureOf(c.send(mail()));
  assert.equal(busy.failureClass, 'transient');
  assert.equal(busy.details.status, 421);
  s.setScenario({ kind: 'refuse-greeting', code: 554 });
  const never = await failureOf(c.send(mail()));
  assert.equal(never.failureClass, 'permanent');
  assert.equal(never.details.status, 554);
});

test('after DATA: 552 and 554 are permanent, 451 transient; the pooled connection stays usable', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'reject-data', code: 552 } });
  // One connection, so that a refusal closing it would show as a second one.
  const c = client(config(s, { SMTP_SECURITY: 'none' }, { maxConnections: 1 }));
  for (const [code, cls] of [[552, 'permanent'], [554, 'permanent'], [451, 'transient']] as const) {
    s.setScenario({ kind: 'reject-data', code });
    const err = await failureOf(c.send(mail()));
    assert.equal(err.failureClass, cls, String(code));
    assert.equal(err.details.status, code);
    assert.equal(err.details.operation, 'DATA');
  }
  s.setScenario({ kind: 'accept' });
  await c.send(mail());
  assert.equal(s.connections, 1, 'refusals of a message do not cost the connection');
});

test('552 to RCPT TO ("too many recipients") is transient', () => {
  assert.equal(classifySmtpError({ code: 'EENVELOPE', responseCode: 552, command: 'RCPT TO' }), 'transient');
  assert.equal(classifySmtpError({ code: 'EMESSAGE', responseCode: 552, command: 'DATA' }), 'permanent');
  assert.equal(classifySmtpError({ code: 'EENVELOPE', responseCode: 503, command: 'RCPT TO' }), 'permanent');
  assert.equal(classifySmtpError({ code: 'EDNS' }), 'transient');
  assert.equal(classifySmtpError({ code: 'ESTREAM' }), 'permanent');
  assert.equal(classifySmtpError({}), 'transient');
});

test('silent server: the greeting timeout fires, transient', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'silent' } });
  const err = await failureOf(client(config(s, { SMTP_SECURITY: 'none' }, { greetingTimeoutMs: 500 })).send(mail()));
  assert.equal(err.failureClass, 'transient');
  assert.equal(err.details.code, 'ETIMEDOUT');
  assert.match(err.message, /Greeting never received/);
});

test('refused port: transient, ECONNREFUSED', async () => {
  const port = await refusedPort();
  const err = await failureOf(client(config({ port }, { SMTP_SECURITY: 'none' })).send(mail()));
  assert.equal(err.failureClass, 'transient');
  assert.equal(err.details.code, 'ECONNREFUSED');
});

test('connection dropped after the message: transient; the retry with the same Message-ID is delivered once', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'drop' } });
  const c = client(config(s, { SMTP_SECURITY: 'none' }));
  const m = mail();
  const err = await failureOf(c.send(m));
  assert.equal(err.failureClass, 'transient');
  assert.equal(err.details.code, 'ECONNECTION');
  assert.equal(s.rejections.filter((r) => r.stage === 'data').length, 1, 'nodemailer did not resend it by itself');
  s.setScenario({ kind: 'drop', at: 'rcpt' });
  assert.equal((await failureOf(c.send(m))).failureClass, 'transient');
  s.setScenario({ kind: 'accept' });
  await c.send(m);
  assert.deepEqual(s.messages.map((x) => x.messageId), [m.messageId]);
});

// ---------------------------------------------------------------- TLS

test('STARTTLS with a self-signed certificate: refused when verifying without the CA, sent with verify off', async () => {
  const s = await sim({ tls: 'starttls' });
  const strict = await failureOf(client(config({ port: s.port })).send(mail()));
  assert.equal(strict.failureClass, 'permanent_config');
  assert.match(strict.message, /self-signed certificate/);
  await client(config({ port: s.port }, { SMTP_VERIFY_SSL: 'False' })).send(mail());
  assert.equal(s.messages.length, 1);
  assert.equal(s.messages[0]!.secure, true, 'verify off still encrypts');
});

test('implicit TLS (SMTP_SECURITY=tls) with the CA file; against a STARTTLS port it is a config error', async () => {
  const implicit = await sim({ tls: 'implicit' });
  await client(config(implicit, { SMTP_SECURITY: 'tls' })).send(mail());
  assert.equal(implicit.messages[0]!.secure, true);

  const starttls = await sim({ tls: 'starttls' });
  const err = await failureOf(client(config(starttls, { SMTP_SECURITY: 'tls' })).send(mail()));
  assert.equal(err.failureClass, 'permanent_config');
});

test('SMTP_SECURITY=starttls against a server without STARTTLS: refused before any mail is sent', async () => {
  const s = await sim({ tls: 'none' });
  const err = await failureOf(client(config(s)).send(mail()));
  assert.equal(err.failureClass, 'permanent_config');
  assert.equal(err.details.operation, 'STARTTLS');
  assert.equal(s.messages.length, 0);
});

test('verify: checks connection, STARTTLS and AUTH; a bad password is permanent_config', async () => {
  const s = await sim({ tls: 'starttls', auth: { username: 'mailer', password: 'right-one' } });
  await client(config(s, { SMTP_USER: 'mailer', SMTP_PASSWORD: 'right-one' })).verify();
  const err = await failureOf(client(config(s, { SMTP_USER: 'mailer', SMTP_PASSWORD: PASSWORD })).verify());
  assert.equal(err.failureClass, 'permanent_config');
  assert.equal(err.details.status, 535);
  assert.equal(s.messages.length, 0);
});

// ---------------------------------------------------------------- pool, abort, input

test('pooled sends: concurrent messages share at most maxConnections connections', async () => {
  const s = await sim({ tls: 'starttls' });
  const c = client(config(s, {}, { maxConnections: 2 }));
  const mails = Array.from({ length: 6 }, () => mail());
  const results = await Promise.all(mails.map((m) => c.send(m)));
  assert.deepEqual(results.map((r) => r.messageId), mails.map((m) => m.messageId));
  assert.deepEqual(new Set(s.messages.map((m) => m.messageId)), new Set(mails.map((m) => m.messageId)));
  assert.ok(s.connections <= 2, `${s.connections} connections`);
  const before = s.connections;
  await c.send(mail());
  assert.equal(s.connections, before, 'a later send reuses a pooled connection');
});

test('abort: a send stuck on a silent server ends with the signal reason, and the client keeps working', async () => {
  const s = await sim({ tls: 'none', scenario: { kind: 'silent' } });
  const c = client(config(s, { SMTP_SECURITY: 'none' }, { greetingTimeoutMs: 60_000 }));
  const ac = new AbortController();
  const sending = c.send(mail(), ac.signal);
  await until(() => s.connections === 1);
  const reason = new Error('job timed out');
  ac.abort(reason);
  await assert.rejects(sending, (err) => err === reason);

  const pre = new AbortController();
  pre.abort(new Error('already stopped'));
  await assert.rejects(c.send(mail(), pre.signal), /already stopped/);

  s.setScenario({ kind: 'accept' });
  await c.send(mail());
  assert.equal(s.messages.length, 1);
});

test('bad input: a clear permanent error listing every problem, nothing sent', async () => {
  const s = await sim({ tls: 'none' });
  const c = client(config(s, { SMTP_SECURITY: 'none' }));
  const err = await failureOf(
    c.send(mail({ to: ['alice@example.org', 'not an address'], messageId: 'mail-1', subject: 'a\r\nBcc: x@y.org', headers: { 'Message-ID': '<x@y>', 'X-Ok': 'a\nb' } })),
  );
  assert.equal(err.failureClass, 'permanent');
  for (const part of ['"not an address"', 'messageId "mail-1"', 'subject', 'header Message-ID is set by the client', 'header X-Ok']) {
    assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
  }
  assert.equal(s.connections, 0);
});

// ---------------------------------------------------------------- secrets

test('the password appears in no error, no detail and no log line: 535, TLS failure, timeout, an echoing server', async () => {
  const log = logLines();
  const seen: unknown[] = [];
  const creds = { SMTP_USER: 'mailer', SMTP_PASSWORD: PASSWORD };
  const b64 = (x: string) => Buffer.from(x).toString('base64');

  const auth = await sim({ tls: 'starttls', auth: { username: 'mailer', password: 'other' } });
  seen.push(await failureOf(client(config(auth, creds), log).send(mail())));

  const tls = await sim({ tls: 'starttls' });
  seen.push(await failureOf(client(config({ port: tls.port }, creds), log).send(mail())));

  const silent = await sim({ tls: 'implicit', scenario: { kind: 'silent' } });
  seen.push(await failureOf(client(config(silent, { ...creds, SMTP_SECURITY: 'tls' }, { greetingTimeoutMs: 300 }), log).send(mail())));

  // A broken server that quotes what it got, the password among it.
  const echo = await sim({
    tls: 'starttls',
    auth: { username: 'mailer', password: PASSWORD },
    scenario: { kind: 'reject-recipients', addresses: ['alice@example.org'], text: `5.7.1 rejected; password=${PASSWORD} auth=${b64(`\u0000mailer\u0000${PASSWORD}`)} raw ${PASSWORD}` },
  });
  const echoed = await failureOf(client(config(echo, creds), log).send(mail()));
  seen.push(echoed);
  assert.equal(echoed.details.status, 550, 'the echoing reply did arrive');

  assert.equal(seen.length, 4);
  assert.ok(log.lines.length >= 4, log.lines.join('\n'));
  const texts = [...log.lines, ...seen.flatMap((e) => [String(e), (e as Error).stack ?? '', JSON.stringify(e), JSON.stringify((e as ExternalError).details)])];
  for (const t of texts) {
    assert.ok(!t.includes(PASSWORD), `password in: ${t}`);
    assert.ok(!t.includes(b64(PASSWORD)), `base64 password in: ${t}`);
    assert.ok(!t.includes(b64(`\u0000mailer\u0000${PASSWORD}`)), `AUTH PLAIN token in: ${t}`);
  }
  assert.deepEqual(seen.map((e) => failureClassOf(e)), ['permanent_config', 'permanent_config', 'transient', 'permanent']);
});
