// The Guacamole simulator on its own, spoken to with raw HTTP and checked
// against the texts and codes of external-apis.md §2, so that a simulator
// bug cannot hide behind a client written with the same misreading.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGuacamoleSim, type GuacamoleSim } from '../../src/sim/guacamole/server.js';
import { until } from '../helpers/util.js';

interface Raw {
  status: number;
  text: string;
  json: any;
  contentType: string;
}

async function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Raw> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, contentType: res.headers.get('content-type') ?? '' };
}

async function login(sim: GuacamoleSim, username = sim.admin.username, password = sim.admin.password): Promise<Raw> {
  return raw(`${sim.url}/api/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  });
}

function guacError(r: Raw, status: number, type: string, message: string): void {
  assert.equal(r.status, status, r.text);
  assert.deepEqual(r.json, {
    message,
    translatableMessage: { key: 'APP.TEXT_UNTRANSLATED', variables: { MESSAGE: message } },
    statusCode: null,
    expected: r.json?.expected ?? null,
    patches: null,
    type,
  });
}

describe('Guacamole simulator', () => {
  let sim: GuacamoleSim;
  let token: string;
  let base: string;
  const api = (method: string, path: string, body?: unknown, tok = token): Promise<Raw> =>
    raw(`${base}${path}`, {
      method,
      headers: { 'Guacamole-Token': tok, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });

  before(async () => {
    sim = await startGuacamoleSim({ contextPath: '/guacamole', dataSources: ['mysql', 'mysql-shared'] });
    base = `${sim.url}/api/session/data/mysql`;
    const r = await login(sim);
    token = r.json.authToken;
  });
  after(() => sim.close());

  test('login answers with a token, the user, the data source and the available ones', async () => {
    const r = await login(sim);
    assert.equal(r.status, 200);
    assert.match(r.json.authToken, /^[0-9A-F]{64}$/);
    assert.equal(r.json.username, 'guacadmin');
    assert.equal(r.json.dataSource, 'mysql');
    assert.deepEqual(r.json.availableDataSources, ['mysql', 'mysql-shared']);
  });

  test('a bad password is 403 INVALID_CREDENTIALS "Invalid login" listing the expected fields', async () => {
    const r = await login(sim, 'guacadmin', 'wrong');
    guacError(r, 403, 'INVALID_CREDENTIALS', 'Invalid login');
    assert.deepEqual(r.json.expected.map((f: { name: string }) => f.name), ['username', 'password']);
  });

  test('login takes form fields only: a JSON body is no login', async () => {
    const r = await raw(`${sim.url}/api/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'guacadmin', password: 'guacadmin' }),
    });
    assert.equal(r.status, 403);
    assert.equal(r.json.type, 'INVALID_CREDENTIALS');
  });

  test('the token is accepted from the header and from the token query parameter', async () => {
    assert.equal((await api('GET', '/connections')).status, 200);
    const q = await raw(`${base}/connections?token=${token}`);
    assert.equal(q.status, 200);
    const none = await raw(`${base}/connections`);
    guacError(none, 403, 'PERMISSION_DENIED', 'Permission Denied.');
  });

  test('an expired token is 403 PERMISSION_DENIED "Permission Denied." and stays dead', async () => {
    const t = (await login(sim)).json.authToken as string;
    assert.equal((await api('GET', '/users', undefined, t)).status, 200);
    sim.expireTokens();
    guacError(await api('GET', '/users', undefined, t), 403, 'PERMISSION_DENIED', 'Permission Denied.');
    token = (await login(sim)).json.authToken;
  });

  test('tokens expire after the configured idle time', async () => {
    const own = await startGuacamoleSim({ tokenIdleMs: 60 * 60_000 });
    try {
      const t = (await login(own)).json.authToken as string;
      const url = `${own.url}/api/session/data/mysql/users`;
      assert.equal((await raw(url, { headers: { 'Guacamole-Token': t } })).status, 200);
      own.setTokenIdleMs(1);
      await until(async () => (await raw(url, { headers: { 'Guacamole-Token': t } })).status === 403, 10_000, 20);
    } finally {
      await own.close();
    }
  });

  test('logout is 204, a second logout 404 "No such token."', async () => {
    const t = (await login(sim)).json.authToken as string;
    assert.equal((await raw(`${sim.url}/api/tokens/${t}`, { method: 'DELETE' })).status, 204);
    guacError(await raw(`${sim.url}/api/tokens/${t}`, { method: 'DELETE' }), 404, 'NOT_FOUND', 'No such token.');
  });

  test('an unknown data source is 404; paths outside the context path are non-JSON 404s', async () => {
    const r = await raw(`${sim.url}/api/session/data/postgresql/connections`, { headers: { 'Guacamole-Token': token } });
    guacError(r, 404, 'NOT_FOUND', 'Session not associated with authentication provider "postgresql".');
    const outside = await raw(`${sim.origin}/api/tokens`, { method: 'POST', body: 'username=a&password=b', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(outside.status, 404);
    assert.equal(outside.json, undefined);
  });

  test('connections: POST echoes a string identifier, lists are maps without parameters, /parameters holds them', async () => {
    const body = {
      name: 'sim-c1', parentIdentifier: 'ROOT', protocol: 'rdp',
      parameters: { hostname: '10.0.0.1', port: '3389', password: 'pw' }, attributes: { 'max-connections': '' },
    };
    const created = await api('POST', '/connections', body);
    assert.equal(created.status, 200);
    assert.equal(typeof created.json.identifier, 'string');
    assert.match(created.json.identifier, /^\d+$/);
    assert.equal(created.json.name, 'sim-c1');
    const id = created.json.identifier as string;
    const list = await api('GET', '/connections');
    assert.equal(list.json[id].name, 'sim-c1');
    assert.equal(list.json[id].parameters, undefined);
    const one = await api('GET', `/connections/${id}`);
    assert.equal(one.json.protocol, 'rdp');
    assert.equal(one.json.parameters, undefined);
    assert.deepEqual((await api('GET', `/connections/${id}/parameters`)).json, body.parameters);

    guacError(await api('POST', '/connections', body), 400, 'BAD_REQUEST', 'The connection "sim-c1" already exists.');
    const { attributes: _a, ...noAttributes } = body;
    guacError(await api('POST', '/connections', { ...noAttributes, name: 'sim-c2' }), 500, 'INTERNAL_ERROR', 'Unexpected internal error');
    guacError(
      await api('POST', '/connections', { ...body, name: 'sim-c3', parameters: { hostname: 'x'.repeat(5000) } }),
      413, 'BAD_REQUEST', 'The value provided for connection parameter "hostname" exceeds the maximum allowed length.',
    );

    const put = await api('PUT', `/connections/${id}`, { ...body, parameters: { hostname: '10.0.0.2', port: '3389' } });
    assert.equal(put.status, 204);
    assert.equal(put.text, '');
    assert.equal((await api('GET', `/connections/${id}/parameters`)).json.hostname, '10.0.0.2');

    assert.equal((await api('DELETE', `/connections/${id}`)).status, 204);
    guacError(await api('GET', `/connections/${id}`), 404, 'NOT_FOUND', `Not found: "${id}"`);
    guacError(await api('DELETE', `/connections/${id}`), 404, 'NOT_FOUND', `Not found: "${id}"`);
  });

  test('names are unique per parent: connection groups and sharing profiles with their own texts', async () => {
    const g = await api('POST', '/connectionGroups', { name: 'sim-g', parentIdentifier: 'ROOT', type: 'ORGANIZATIONAL', attributes: {} });
    assert.equal(g.status, 200);
    guacError(
      await api('POST', '/connectionGroups', { name: 'sim-g', parentIdentifier: 'ROOT', type: 'ORGANIZATIONAL', attributes: {} }),
      400, 'BAD_REQUEST', 'The connection group "sim-g" already exists.',
    );
    const c = { name: 'sim-same', protocol: 'ssh', parameters: {}, attributes: {} };
    assert.equal((await api('POST', '/connections', { ...c, parentIdentifier: 'ROOT' })).status, 200);
    const nested = await api('POST', '/connections', { ...c, parentIdentifier: g.json.identifier });
    assert.equal(nested.status, 200, 'the same name in another group is allowed');
    const p = { name: 'observe', primaryConnectionIdentifier: nested.json.identifier, parameters: { 'read-only': 'true' }, attributes: {} };
    const sp = await api('POST', '/sharingProfiles', p);
    assert.equal(sp.status, 200);
    assert.match(sp.json.identifier, /^\d+$/);
    guacError(await api('POST', '/sharingProfiles', p), 400, 'BAD_REQUEST', 'The sharing profile "observe" already exists.');
    assert.deepEqual((await api('GET', `/sharingProfiles/${sp.json.identifier}/parameters`)).json, { 'read-only': 'true' });
    const tree = await api('GET', '/connectionGroups/ROOT/tree');
    assert.ok(tree.json.childConnectionGroups.some((x: { name: string }) => x.name === 'sim-g'));
  });

  test('users: duplicate and blank names are 400 with their texts, missing attributes 500', async () => {
    const u = { username: 'sim-u1', password: 'Init-4711', attributes: { 'guac-full-name': 'Sim One' } };
    assert.equal((await api('POST', '/users', u)).status, 200);
    guacError(await api('POST', '/users', u), 400, 'BAD_REQUEST', 'User "sim-u1" already exists.');
    guacError(await api('POST', '/users', { ...u, username: '  ' }), 400, 'BAD_REQUEST', 'The username must not be blank.');
    guacError(await api('POST', '/users', { username: 'sim-u2' }), 500, 'INTERNAL_ERROR', 'Unexpected internal error');
    const got = await api('GET', '/users/sim-u1');
    assert.equal(got.json.username, 'sim-u1');
    assert.equal(got.json.password, undefined);
    guacError(await api('GET', '/users/nobody'), 404, 'NOT_FOUND', 'Not found: "nobody"');
  });

  test('permission PATCH: 204, adds are idempotent, and the 400/404/500 answers of §2.3', async () => {
    await api('POST', '/users', { username: 'sim-p1', password: 'x', attributes: {} });
    const conn = (await api('POST', '/connections', { name: 'sim-pc', parentIdentifier: 'ROOT', protocol: 'vnc', parameters: {}, attributes: {} })).json.identifier as string;
    const add = [{ op: 'add', path: `/connectionPermissions/${conn}`, value: 'READ' }];
    const r = await api('PATCH', '/users/sim-p1/permissions', add);
    assert.equal(r.status, 204);
    assert.equal((await api('PATCH', '/users/sim-p1/permissions', add)).status, 204);
    assert.deepEqual((await api('GET', '/users/sim-p1/permissions')).json.connectionPermissions, { [conn]: ['READ'] });

    guacError(await api('PATCH', '/users/sim-p1/permissions', [{ op: 'replace', path: `/connectionPermissions/${conn}`, value: 'READ' }]), 400, 'BAD_REQUEST', 'Unsupported patch operation: "replace"');
    guacError(await api('PATCH', '/users/sim-p1/permissions', [{ op: 'add', path: '/bogus/1', value: 'READ' }]), 400, 'BAD_REQUEST', 'Unsupported patch path: "/bogus/1"');
    guacError(await api('PATCH', '/users/sim-p1/permissions', [{ op: 'add', path: `/connectionPermissions/${conn}`, value: 'read' }]), 500, 'INTERNAL_ERROR', 'Unexpected internal error');
    guacError(await api('PATCH', '/users/sim-p1/permissions', [{ op: 'add', path: '/connectionPermissions/99999', value: 'READ' }]), 500, 'INTERNAL_ERROR', 'Unexpected internal error');
    guacError(await api('PATCH', '/users/nobody/permissions', add), 404, 'NOT_FOUND', 'Not found: "nobody"');

    // One bad operation leaves the others unapplied.
    await api('PATCH', '/users/sim-p1/permissions', [{ op: 'remove', path: `/connectionPermissions/${conn}`, value: 'READ' }, { op: 'move', path: '/x', value: 'READ' }]);
    assert.deepEqual(sim.permissionsOf('sim-p1')!.connectionPermissions, { [conn]: ['READ'] });
  });

  test('a user without ADMINISTER sees only what it may READ and gets 403 "Permission denied." for changes', async () => {
    sim.addUser('sim-plain', 'plain-pass');
    const mine = (await api('POST', '/connections', { name: 'sim-mine', parentIdentifier: 'ROOT', protocol: 'rdp', parameters: { password: 'pw' }, attributes: {} })).json.identifier as string;
    const other = (await api('POST', '/connections', { name: 'sim-other', parentIdentifier: 'ROOT', protocol: 'rdp', parameters: {}, attributes: {} })).json.identifier as string;
    assert.equal((await api('PATCH', '/users/sim-plain/permissions', [{ op: 'add', path: `/connectionPermissions/${mine}`, value: 'READ' }])).status, 204);
    const t = (await login(sim, 'sim-plain', 'plain-pass')).json.authToken as string;
    assert.deepEqual(Object.keys((await api('GET', '/connections', undefined, t)).json), [mine]);
    guacError(await api('GET', `/connections/${other}`, undefined, t), 404, 'NOT_FOUND', `Not found: "${other}"`);
    guacError(await api('GET', `/connections/${mine}/parameters`, undefined, t), 403, 'PERMISSION_DENIED', 'Permission denied.');
    guacError(await api('POST', '/connections', { name: 'sim-x', parentIdentifier: 'ROOT', protocol: 'rdp', parameters: {}, attributes: {} }, t), 403, 'PERMISSION_DENIED', 'Permission denied.');
    guacError(await api('DELETE', `/connections/${mine}`, undefined, t), 403, 'PERMISSION_DENIED', 'Permission denied.');
    assert.equal((await api('GET', '/users/sim-plain', undefined, t)).status, 200);
    assert.deepEqual((await api('GET', '/users/sim-plain/permissions', undefined, t)).json.connectionPermissions, { [mine]: ['READ'] });
  });

  test('injected faults: a 500, a proxy 502 page, a delay, a second factor', async () => {
    sim.inject({ match: (m, p) => m === 'GET' && p === '/users', status: 500 });
    guacError(await api('GET', '/users'), 500, 'INTERNAL_ERROR', 'Unexpected internal error');
    assert.equal((await api('GET', '/users')).status, 200, 'the fault hits once');
    sim.inject({ html: true, status: 502 });
    const bad = await api('GET', '/users');
    assert.equal(bad.status, 502);
    assert.equal(bad.json, undefined);
    sim.inject({ delayMs: 150 });
    const started = Date.now();
    assert.equal((await api('GET', '/users')).status, 200);
    assert.ok(Date.now() - started >= 100);
    sim.requireMfa(true);
    const mfa = await login(sim);
    sim.requireMfa(false);
    assert.equal(mfa.status, 403);
    assert.equal(mfa.json.type, 'INSUFFICIENT_CREDENTIALS');
  });

  test('HTTPS with the simulators certificate', async () => {
    const own = await startGuacamoleSim({ https: true, contextPath: '' });
    try {
      assert.match(own.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const { Agent, request } = await import('undici');
      const agent = new Agent({ connect: { rejectUnauthorized: false } });
      const res = await request(`${own.url}/api/tokens`, {
        method: 'POST', dispatcher: agent,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=guacadmin&password=guacadmin',
      });
      assert.equal(res.statusCode, 200);
      await res.body.text();
      await agent.close();
    } finally {
      await own.close();
    }
  });
});
