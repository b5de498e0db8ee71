// The Guacamole client against the Guacamole simulator: every row of
// external-apis.md §2.4 the simulator reproduces, token expiry in the middle
// of a job, timeouts, aborts, TLS, and recipes adopting earlier work.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UnrecoverableError } from '../../../src/index.js';
import { ExternalError, failureClassOf, PermanentExternalError } from '../../../src/openvle/clients/failure.js';
import {
  classifyGuacamole,
  deleteConnection,
  ensureConnection,
  ensureUser,
  grantConnection,
  GuacamoleClient,
  guacamoleConfigFromEnv,
  revokeConnection,
  type GuacamoleConfig,
} from '../../../src/openvle/clients/guacamole/index.js';
import { ConfigError, EnvReader } from '../../../src/openvle/config/env.js';
import { startGuacamoleSim, type GuacamoleSim } from '../../../src/sim/guacamole/server.js';
import { simCertificate } from '../../../src/sim/tls.js';
import { uniq } from '../../helpers/util.js';
import { captureLogger } from './log-capture.js';

function configFor(sim: GuacamoleSim, over: Partial<GuacamoleConfig> = {}): GuacamoleConfig {
  return { url: sim.url, dataSource: 'mysql', username: sim.admin.username, password: sim.admin.password, verifyTls: true, timeoutMs: 10_000, ...over };
}

async function rejectsWith(p: Promise<unknown>, cls: string, pattern?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.equal(failureClassOf(err), cls, `expected ${cls}, got ${String(err)}`);
    if (pattern) assert.match((err as Error).message, pattern);
    return err as Error;
  }
  assert.fail(`expected a ${cls} failure`);
}

describe('Guacamole configuration', () => {
  test('defaults, booleans as .env files write them, and undefined when Guacamole is not configured', () => {
    assert.equal(guacamoleConfigFromEnv(new EnvReader({})), undefined);
    const r = new EnvReader({ GUACAMOLE_URL: '"https://guac.example.edu/guacamole/"', GUACAMOLE_USERNAME: 'openvle', GUACAMOLE_PASSWORD: 'pw', GUACAMOLE_VERIFY_SSL: 'False' });
    const c = guacamoleConfigFromEnv(r)!;
    r.check();
    assert.equal(c.url, 'https://guac.example.edu/guacamole');
    assert.equal(c.dataSource, 'mysql');
    assert.equal(c.verifyTls, false);
    assert.equal(c.timeoutMs, 30_000);
  });

  test('every bad variable is one problem line, and no value of a secret is echoed', () => {
    const r = new EnvReader({ GUACAMOLE_URL: 'ftp://x', GUACAMOLE_DB_TYPE: 'my sql', GUACAMOLE_PASSWORD: 'hunter22', GUACAMOLE_VERIFY_SSL: 'maybe', GUACAMOLE_CA_FILE: '/nonexistent/ca.pem' });
    guacamoleConfigFromEnv(r);
    assert.throws(() => r.check(), (err: ConfigError) => {
      assert.equal(err.problems.length, 5, err.problems.join('\n'));
      assert.ok(err.problems.some((p) => p.startsWith('GUACAMOLE_USERNAME ')));
      assert.ok(!err.message.includes('hunter22'));
      return true;
    });
  });
});

describe('Guacamole client', () => {
  let sim: GuacamoleSim;
  let client: GuacamoleClient;
  const log = captureLogger();

  before(async () => {
    sim = await startGuacamoleSim();
    client = new GuacamoleClient(configFor(sim), { logger: log });
  });
  after(async () => {
    await client.close();
    await sim.close();
  });

  test('ensureConnection creates once, then adopts by name and brings the parameters up to date', async () => {
    const name = uniq('lab');
    const first = await ensureConnection(client, { name, protocol: 'rdp', parameters: { hostname: '10.20.0.42', port: 3389, 'ignore-cert': true } });
    assert.equal(first.adopted, false);
    assert.match(first.identifier, /^\d+$/);
    const again = await ensureConnection(client, { name, protocol: 'rdp', parameters: { hostname: '10.20.0.43', port: 3389 } });
    assert.deepEqual(again, { identifier: first.identifier, adopted: true });
    assert.equal(sim.connections().filter((c) => c.name === name).length, 1);
    assert.deepEqual(sim.parametersOf(first.identifier), { hostname: '10.20.0.43', port: '3389' });
  });

  test('a connection an earlier attempt created (lost answer) is adopted, with its sharing profile', async () => {
    const name = uniq('lab');
    const id = await client.createConnection({ name, parentIdentifier: 'ROOT', protocol: 'ssh', parameters: { hostname: 'h' }, attributes: {} });
    const sp = await client.createSharingProfile({ name: 'observe', primaryConnectionIdentifier: id, parameters: { 'read-only': 'true' }, attributes: {} });
    const r = await ensureConnection(client, { name, protocol: 'ssh', parameters: { hostname: 'h', port: 22 }, sharingProfile: { name: 'observe', parameters: { 'read-only': 'true' } } });
    assert.deepEqual(r, { identifier: id, sharingProfileIdentifier: sp, adopted: true });
    assert.equal(sim.sharingProfiles().filter((p) => p.primaryConnectionIdentifier === id).length, 1);
  });

  test('two attempts racing for the same name end with one connection both adopt', async () => {
    const name = uniq('race');
    const spec = { name, protocol: 'vnc' as const, parameters: { hostname: 'h', port: 5900 } };
    const [a, b] = await Promise.all([ensureConnection(client, spec), ensureConnection(client, spec)]);
    assert.equal(a.identifier, b.identifier);
    assert.equal(sim.connections().filter((c) => c.name === name).length, 1);
  });

  test('a 400 "already exists" from a create is the already_done class, for the recipes to adopt', async () => {
    const name = uniq('dup');
    const c = { name, parentIdentifier: 'ROOT', protocol: 'rdp', parameters: {}, attributes: {} };
    await client.createConnection(c);
    const err = await rejectsWith(client.createConnection(c), 'already_done', /already exists/);
    assert.ok(err instanceof ExternalError);
  });

  test('ensureUser creates once, then adopts; grants are idempotent; revoke and delete are safe to repeat', async () => {
    const username = uniq('student');
    assert.deepEqual(await ensureUser(client, { username, password: 'Init-4711-xyz', fullName: 'S. Müller', email: 's@example.edu' }), { username, created: true });
    assert.deepEqual(await ensureUser(client, { username, password: 'other' }), { username, created: false });
    const conn = await ensureConnection(client, { name: uniq('lab'), protocol: 'rdp', parameters: { hostname: 'h' }, sharingProfile: { name: 'observe' } });
    const grant = { connectionId: conn.identifier, sharingProfileId: conn.sharingProfileIdentifier! };
    await grantConnection(client, username, grant);
    await grantConnection(client, username, grant);
    const perms = sim.permissionsOf(username)!;
    assert.deepEqual(perms.connectionPermissions, { [conn.identifier]: ['READ'] });
    assert.deepEqual(perms.sharingProfilePermissions, { [conn.sharingProfileIdentifier!]: ['READ'] });
    assert.equal(await revokeConnection(client, username, grant), 'revoked');
    assert.deepEqual(sim.permissionsOf(username)!.connectionPermissions, {});
    assert.equal(await deleteConnection(client, conn.identifier), 'deleted');
    assert.equal(await deleteConnection(client, conn.identifier), 'already_done');
    assert.equal(await revokeConnection(client, uniq('gone'), grant), 'already_done');
  });

  test('token expiry in the middle of a job: one fresh login, and the job goes on', async () => {
    const c = new GuacamoleClient(configFor(sim));
    try {
      const before = sim.logins;
      const conn = await ensureConnection(c, { name: uniq('lab'), protocol: 'rdp', parameters: { hostname: 'h' } });
      assert.equal(sim.logins, before + 1);
      sim.expireTokens();
      const username = uniq('u');
      await ensureUser(c, { username, password: 'p' });
      await grantConnection(c, username, { connectionId: conn.identifier });
      assert.equal(sim.logins, before + 2, 'exactly one re-login');
      assert.deepEqual(sim.permissionsOf(username)!.connectionPermissions, { [conn.identifier]: ['READ'] });
    } finally {
      await c.close();
    }
  });

  test('a 403 that survives a fresh login is a real permission problem: permanent, after exactly one re-login', async () => {
    sim.addUser('plain-svc', 'plain-pass');
    const c = new GuacamoleClient(configFor(sim, { username: 'plain-svc', password: 'plain-pass' }));
    try {
      await c.login();
      const before = sim.logins;
      const err = await rejectsWith(
        c.createConnection({ name: uniq('nope'), parentIdentifier: 'ROOT', protocol: 'rdp', parameters: {}, attributes: {} }),
        'permanent', /Permission denied\./,
      );
      assert.ok(err instanceof PermanentExternalError && err instanceof UnrecoverableError);
      assert.equal(sim.logins, before + 1);
    } finally {
      await c.close();
    }
  });

  test('bad credentials and a required second factor are permanent_config; the password is in neither message nor log', async () => {
    const l = captureLogger();
    const c = new GuacamoleClient(configFor(sim, { password: 'wrong-secret-pw' }), { logger: l });
    try {
      const err = await rejectsWith(c.listConnections(), 'permanent_config', /Invalid login/);
      assert.equal((err as PermanentExternalError).details.code, 'INVALID_CREDENTIALS');
      assert.ok(!JSON.stringify({ m: err.message, d: (err as PermanentExternalError).details, l: l.lines }).includes('wrong-secret-pw'));
      assert.ok(l.lines.some((x) => x.includes('HTTP 403')), 'the raw answer is logged');
    } finally {
      await c.close();
    }
    sim.requireMfa(true);
    const m = new GuacamoleClient(configFor(sim));
    try {
      await rejectsWith(m.login(), 'permanent_config');
    } finally {
      sim.requireMfa(false);
      await m.close();
    }
  });

  test('a data source the login does not offer is a configuration error', async () => {
    const c = new GuacamoleClient(configFor(sim, { dataSource: 'postgresql' }));
    try {
      await rejectsWith(c.listConnections(), 'permanent_config', /GUACAMOLE_DB_TYPE/);
    } finally {
      await c.close();
    }
  });

  test('a wrong context path (a non-JSON 404 from the servlet container) is a configuration error', async () => {
    const c = new GuacamoleClient(configFor(sim, { url: sim.origin }));
    try {
      await rejectsWith(c.login(), 'permanent_config');
    } finally {
      await c.close();
    }
  });

  test('500 and a proxy 502 page are transient; 409 transient; 413, 501, other 400s and 404s permanent', async () => {
    sim.inject({ match: (m, p) => m === 'GET' && p === '/connections', status: 500 });
    await rejectsWith(client.listConnections(), 'transient', /Unexpected internal error/);
    sim.inject({ match: (m, p) => m === 'GET' && p === '/connections', status: 502, html: true });
    await rejectsWith(client.listConnections(), 'transient');
    sim.inject({ match: (m, p) => m === 'GET' && p === '/connections', status: 409, type: 'BAD_REQUEST', message: 'Conflict.' });
    await rejectsWith(client.listConnections(), 'transient');
    sim.inject({ match: (m, p) => m === 'PATCH', status: 501, type: 'INTERNAL_ERROR', message: 'Not implemented.' });
    await rejectsWith(client.patchPermissions('guacadmin', [{ op: 'add', path: '/systemPermissions', value: 'AUDIT' }]), 'permanent');
    await rejectsWith(
      client.createConnection({ name: uniq('long'), parentIdentifier: 'ROOT', protocol: 'rdp', parameters: { hostname: 'x'.repeat(5000) }, attributes: {} }),
      'permanent', /exceeds the maximum allowed length/,
    );
    await rejectsWith(client.createConnection({ name: ' ', parentIdentifier: 'ROOT', protocol: 'rdp', parameters: {}, attributes: {} }), 'permanent');
    await rejectsWith(client.getConnectionParameters('987654'), 'permanent', /Not found: "987654"/);
    assert.equal(await client.getUser(uniq('nobody')), undefined);
  });

  test('a refused connection is transient', async () => {
    const gone = await startGuacamoleSim();
    const url = gone.url;
    await gone.close();
    const c = new GuacamoleClient(configFor(gone, { url }));
    try {
      await rejectsWith(c.login(), 'transient');
    } finally {
      await c.close();
    }
  });

  test('a call slower than the timeout is transient; an aborted job rejects with its own reason', async () => {
    const c = new GuacamoleClient(configFor(sim, { timeoutMs: 300 }));
    try {
      await c.login();
      sim.inject({ match: (m, p) => m === 'GET' && p === '/users', delayMs: 3_000 });
      await rejectsWith(c.call('GET', '/users'), 'transient', /no answer within 300 ms/);
      sim.inject({ match: (m, p) => m === 'GET' && p === '/users', delayMs: 3_000 });
      const ac = new AbortController();
      const pending = c.call('GET', '/users', { signal: ac.signal });
      setImmediate(() => ac.abort(new Error('job cancelled')));
      await assert.rejects(pending, (err: Error) => {
        assert.equal(err.message, 'job cancelled');
        assert.equal(failureClassOf(err), undefined);
        return true;
      });
    } finally {
      await c.close();
    }
  });

  test('TLS: verified by default (a self-signed server is refused), trusted with a CA file, or not verified when configured', async () => {
    const tls = await startGuacamoleSim({ https: true });
    const dir = mkdtempSync(join(tmpdir(), 'guac-ca-'));
    try {
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, simCertificate().cert);
      const strict = new GuacamoleClient(configFor(tls));
      await rejectsWith(strict.login(), 'permanent_config', /TLS/);
      await strict.close();
      const withCa = new GuacamoleClient(configFor(tls, { caFile }));
      assert.deepEqual(await withCa.listConnections(), {});
      await withCa.close();
      const off = new GuacamoleClient(configFor(tls, { verifyTls: false }));
      assert.deepEqual(await off.listConnections(), {});
      await off.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await tls.close();
    }
  });

  test('the classifier on its own follows the §2.4 table', () => {
    assert.equal(classifyGuacamole({ status: 400, method: 'POST', type: 'BAD_REQUEST', message: 'User "a" already exists.' }), 'already_done');
    assert.equal(classifyGuacamole({ status: 400, method: 'PATCH', type: 'BAD_REQUEST', message: 'Unsupported patch path: "/x"' }), 'permanent');
    assert.equal(classifyGuacamole({ status: 403, method: 'POST', type: 'INSUFFICIENT_CREDENTIALS' }), 'permanent_config');
    assert.equal(classifyGuacamole({ status: 404, method: 'DELETE', type: 'NOT_FOUND', message: 'Not found: "4"' }), 'already_done');
    assert.equal(classifyGuacamole({ status: 404, method: 'GET', type: 'NOT_FOUND', message: 'Session not associated with authentication provider "x".' }), 'permanent_config');
    assert.equal(classifyGuacamole({ status: 503, method: 'GET' }), 'transient');
  });
});
