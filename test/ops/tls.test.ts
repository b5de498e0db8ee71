// rediss:// against Debian's redis-server with TLS only (no plain port), with
// certificates the openssl CLI makes at test start: the CA given in the URL
// (redis-py's ?ssl_ca_certs=) or in RQ_TLS_CA_FILE, a server that demands a
// client certificate, and servers the client must refuse to trust.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { Job, Queue, Worker, createRedis, silentLogger } from '../../src/index.js';
import { redisOptionsFromUrl } from '../../src/engine/connection.js';
import { run } from '../cli/helpers.js';
import { tasks } from '../helpers/engine.js';
import { makeTestCerts, removeCerts, TlsRedisServer, type TestCerts } from '../helpers/tls.js';
import { uniq } from '../helpers/util.js';

let certs: TestCerts;
let open: TlsRedisServer; // any client with the CA
let mutual: TlsRedisServer; // --tls-auth-clients yes
const conns: Redis[] = [];

before(async () => {
  certs = makeTestCerts();
  [open, mutual] = await Promise.all([TlsRedisServer.start(certs), TlsRedisServer.start(certs, { authClients: true })]);
});

after(async () => {
  for (const c of conns) c.disconnect();
  await Promise.all([open?.stop(), mutual?.stop()]);
  removeCerts(certs);
});

function conn(url: string): Redis {
  const c = createRedis(url);
  conns.push(c);
  return c;
}

/** Enqueues one job over `url` and runs it with a burst worker on its own connection over `url`. */
async function roundTrip(url: string): Promise<void> {
  const name = uniq('tls');
  const producer = conn(url);
  const job = await new Queue(name, producer).enqueue('t.add', { args: [20, 22] });
  const worker = new Worker([name], {
    connection: conn(url),
    tasks: tasks({ 't.add': (a: number, b: number) => a + b }),
    logger: silentLogger,
    burst: true,
    name: uniq('w'),
  });
  await worker.work();
  const done = await Job.fetch(producer, job.id);
  assert.equal(done.status, 'finished');
  assert.equal(await done.returnValue(), 42);
  // and it really went over TLS: the server has no plain port
  assert.equal(await producer.config('GET', 'port').then((r) => (r as string[])[1]), '0');
}

/** An `openvle-rq` run that must fail: exit 1 with exactly one `error:` line on stderr, well before the test's kill. */
async function failsWithOneLine(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const t0 = Date.now();
  const r = await run(args, { env, timeoutMs: 30_000 });
  assert.equal(r.signal, null, `killed after ${Date.now() - t0} ms (a hang):\n${r.stderr}`);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^error: /);
  assert.equal(r.stdout, '');
  return lines[0]!;
}

test('a Queue and a Worker work over rediss:// with the CA given as ?ssl_ca_certs=', async () => {
  await roundTrip(open.url);
});

test('a server demanding a client certificate: the Queue and Worker give it as ?ssl_certfile=&ssl_keyfile=', async () => {
  assert.match(mutual.url, /ssl_certfile=.*ssl_keyfile=/);
  await roundTrip(mutual.url);
});

test('the CLI takes the CA and the client certificate from RQ_TLS_CA_FILE, RQ_TLS_CERT_FILE, RQ_TLS_KEY_FILE', async () => {
  const env = { RQ_TLS_CA_FILE: certs.ca, RQ_TLS_CERT_FILE: certs.clientCert, RQ_TLS_KEY_FILE: certs.clientKey };
  for (const server of [open, mutual]) {
    const r = await run(['info', '--json', '-u', server.bareUrl], { env, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout), r.stdout);
  }
  // the URL's own parameter wins over the environment
  const r = await run(['info', '--json', '-u', open.url], { env: { RQ_TLS_CA_FILE: certs.otherCa }, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
});

test('without a client certificate, a server that demands one is one error line and exit 1', async () => {
  const line = await failsWithOneLine(['info', '-u', `${mutual.bareUrl}?ssl_ca_certs=${encodeURIComponent(certs.ca)}`]);
  assert.match(line, /^error: Cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+.*: .*client certificate.*RQ_TLS_CERT_FILE and RQ_TLS_KEY_FILE$/);
});

test('an untrusted server certificate is one clear error line and exit 1, not a hang', async () => {
  // no CA at all: the test CA is in no trust store
  const line = await failsWithOneLine(['info', '-u', open.bareUrl]);
  assert.match(line, /Cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+: the server's TLS certificate is not trusted \(.+\); give its CA with \?ssl_ca_certs=FILE or RQ_TLS_CA_FILE$/);
  // a CA that did not sign it
  const other = await failsWithOneLine(['info', '-u', open.bareUrl], { RQ_TLS_CA_FILE: certs.otherCa });
  assert.match(other, /TLS certificate is not trusted/);
  // the worker's lasting connection checks first, so it ends the same way instead of retrying forever
  const worker = await failsWithOneLine(['worker', '-b', '-u', open.bareUrl]);
  assert.match(worker, /TLS certificate is not trusted/);
});

test('ssl_cert_reqs=none connects to a server it cannot verify (redis-py\'s opt-out)', async () => {
  const r = await run(['info', '--json', '-u', `${open.bareUrl}?ssl_cert_reqs=none`], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
});

test('bad TLS settings are one error line naming the problem', async () => {
  assert.match(await failsWithOneLine(['info', '-u', `${open.bareUrl}?ssl_ca_certs=/nonexistent/ca.pem`]), /cannot read ssl_ca_certs file '\/nonexistent\/ca\.pem': ENOENT/);
  assert.match(await failsWithOneLine(['info', '-u', open.bareUrl], { RQ_TLS_CA_FILE: '/nonexistent/ca.pem' }), /cannot read RQ_TLS_CA_FILE file '\/nonexistent\/ca\.pem': ENOENT/);
  assert.match(await failsWithOneLine(['info', '-u', `${open.bareUrl}?ssl_ca_cert=x`]), /unknown URL parameter 'ssl_ca_cert' \(supported: ssl_ca_certs, /);
  assert.match(await failsWithOneLine(['info', '-u', `redis://127.0.0.1:${open.port}?ssl_ca_certs=${certs.ca}`]), /'ssl_ca_certs' needs a rediss:\/\/ URL/);
  assert.match(await failsWithOneLine(['info', '-u', `${open.bareUrl}?ssl_cert_reqs=maybe`]), /ssl_cert_reqs must be none, optional or required, not 'maybe'/);
  assert.match(await failsWithOneLine(['info', '-u', `${open.bareUrl}?ssl_keyfile=${certs.clientKey}`]), /needs its certificate/);
});

test('URL TLS options: files are read, a plain redis:// URL has none, a password never shows in the error', () => {
  const o = redisOptionsFromUrl(`rediss://:pw@127.0.0.1:6380/2?ssl_ca_certs=${certs.ca}&ssl_check_hostname=false`, {});
  assert.equal(o.db, 2);
  const tls = o.tls as { ca: string; checkServerIdentity: unknown };
  assert.match(tls.ca, /BEGIN CERTIFICATE/);
  assert.equal(typeof tls.checkServerIdentity, 'function');
  assert.equal(redisOptionsFromUrl('redis://127.0.0.1:6379/0', { RQ_TLS_CA_FILE: certs.ca }).tls, undefined);
  assert.throws(() => redisOptionsFromUrl('rediss://u:s3cret@127.0.0.1/0?bogus=1', {}), (e: Error) => !e.message.includes('s3cret'));
});
