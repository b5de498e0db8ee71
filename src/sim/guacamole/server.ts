import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, sleep } from '../http-listen.js';

/**
 * A simulated Apache Guacamole REST API (external-apis.md §2, what §2.6
 * lists): token login, token expiry, data sources, connections, groups,
 * sharing profiles, users and permission PATCH, with Guacamole's error
 * shape and texts, plus faults a test can inject.
 */
export interface GuacamoleSimOptions {
  /** Context path the webapp is deployed under; '' for the root. Default '/guacamole'. */
  contextPath?: string;
  https?: boolean;
  port?: number;
  /** Data sources the login reports; the first one stores the objects. Default ['mysql']. */
  dataSources?: string[];
  /** Administrator accounts (username → password). Default { guacadmin: 'guacadmin' }. */
  admins?: Record<string, string>;
  /** Idle time after which a token is discarded (api-session-timeout). Default 60 min. */
  tokenIdleMs?: number;
}

export type PermissionSet = {
  connectionPermissions: Record<string, string[]>;
  connectionGroupPermissions: Record<string, string[]>;
  sharingProfilePermissions: Record<string, string[]>;
  activeConnectionPermissions: Record<string, string[]>;
  userPermissions: Record<string, string[]>;
  userGroupPermissions: Record<string, string[]>;
  systemPermissions: string[];
};

interface SimUser {
  username: string;
  password: string;
  disabled: boolean;
  attributes: Record<string, unknown>;
  permissions: PermissionSet;
}
export interface SimConnection {
  identifier: string;
  name: string;
  parentIdentifier: string;
  protocol: string;
  parameters: Record<string, string>;
  attributes: Record<string, unknown>;
}
interface SimGroup {
  identifier: string;
  name: string;
  parentIdentifier: string;
  type: string;
  attributes: Record<string, unknown>;
}
interface SimSharingProfile {
  identifier: string;
  name: string;
  primaryConnectionIdentifier: string;
  parameters: Record<string, string>;
  attributes: Record<string, unknown>;
}

/** A fault for the next matching requests. */
export interface GuacamoleFault {
  /** Which requests it hits, given the method and the path after `/api` with `/session/data/{ds}` cut off ('/connections', '/tokens'); omitted = any. */
  match?: (method: string, path: string) => boolean;
  /** How many requests it hits. Default 1. */
  times?: number;
  /** Answer with this status and Guacamole error (type, message)... */
  status?: number;
  type?: string;
  message?: string;
  /** ...or with a non-JSON proxy page (a 502 from nginx in front of Tomcat). */
  html?: boolean;
  /** Delay before answering (or before handling normally when no status is given). */
  delayMs?: number;
}

export interface GuacamoleSim {
  /** Base URL including the context path, as GUACAMOLE_URL takes it. */
  url: string;
  origin: string;
  port: number;
  dataSource: string;
  admin: { username: string; password: string };
  close(): Promise<void>;
  /** Discards every token now, as an idle timeout would. */
  expireTokens(): void;
  setTokenIdleMs(ms: number): void;
  /** Queues a fault; faults are consumed in order. */
  inject(fault: GuacamoleFault): void;
  /** Requests that demand a second login factor (403 INSUFFICIENT_CREDENTIALS) when true. */
  requireMfa(on: boolean): void;
  /** Tokens issued so far (logins that succeeded). */
  readonly logins: number;
  connections(): SimConnection[];
  users(): Array<{ username: string; disabled: boolean; attributes: Record<string, unknown> }>;
  sharingProfiles(): SimSharingProfile[];
  groups(): SimGroup[];
  permissionsOf(username: string): PermissionSet | undefined;
  /** Parameters of a connection, secrets included (the test reads what the client stored). */
  parametersOf(identifier: string): Record<string, string> | undefined;
  /** Adds an ordinary (non-admin) user that can log in. */
  addUser(username: string, password: string): void;
  /** Every request seen, as 'METHOD /path' with the query (tokens in it redacted). */
  readonly requests: string[];
}

const OBJECT_PERMS = ['READ', 'UPDATE', 'DELETE', 'ADMINISTER'];
const SYSTEM_PERMS = ['CREATE_USER', 'CREATE_USER_GROUP', 'CREATE_CONNECTION', 'CREATE_CONNECTION_GROUP', 'CREATE_SHARING_PROFILE', 'AUDIT', 'ADMINISTER'];
const MAX_PARAMETER_LENGTH = 4096;

function emptyPermissions(): PermissionSet {
  return {
    connectionPermissions: {},
    connectionGroupPermissions: {},
    sharingProfilePermissions: {},
    activeConnectionPermissions: {},
    userPermissions: {},
    userGroupPermissions: {},
    systemPermissions: [],
  };
}

class GuacError {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly message: string,
    readonly expected: unknown = null,
  ) {}
}

const notFound = (id: string): GuacError => new GuacError(404, 'NOT_FOUND', `Not found: "${id}"`);
const internal = (): GuacError => new GuacError(500, 'INTERNAL_ERROR', 'Unexpected internal error');
const badRequest = (message: string): GuacError => new GuacError(400, 'BAD_REQUEST', message);

function errorBody(e: GuacError): string {
  return JSON.stringify({
    message: e.message,
    translatableMessage: { key: 'APP.TEXT_UNTRANSLATED', variables: { MESSAGE: e.message } },
    statusCode: null,
    expected: e.expected,
    patches: null,
    type: e.type,
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
}

export async function startGuacamoleSim(opts: GuacamoleSimOptions = {}): Promise<GuacamoleSim> {
  const contextPath = (opts.contextPath ?? '/guacamole').replace(/\/+$/, '');
  const dataSources = opts.dataSources ?? ['mysql'];
  const ds = dataSources[0]!;
  let tokenIdleMs = opts.tokenIdleMs ?? 60 * 60_000;
  let mfa = false;
  let logins = 0;
  const faults: GuacamoleFault[] = [];
  const requests: string[] = [];
  const tokens = new Map<string, { username: string; lastUsed: number }>();
  const users = new Map<string, SimUser>();
  const connections = new Map<string, SimConnection>();
  const groups = new Map<string, SimGroup>();
  const profiles = new Map<string, SimSharingProfile>();
  // JDBC keeps one auto-increment sequence per table.
  const seq = { connection: 0, group: 0, profile: 0 };
  const admins = opts.admins ?? { guacadmin: 'guacadmin' };
  for (const [username, password] of Object.entries(admins)) {
    const permissions = emptyPermissions();
    permissions.systemPermissions = [...SYSTEM_PERMS];
    users.set(username, { username, password, disabled: false, attributes: {}, permissions });
  }

  const isAdmin = (u: SimUser): boolean => u.permissions.systemPermissions.includes('ADMINISTER');

  function send(res: ServerResponse, status: number, body?: unknown): void {
    if (status === 204 || body === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
  function sendError(res: ServerResponse, e: GuacError): void {
    const text = errorBody(e);
    res.writeHead(e.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
  // Jersey's own routing errors (unknown path, wrong method) are HTML, not Guacamole JSON.
  function sendJerseyError(res: ServerResponse, status: number): void {
    const reason = status === 404 ? 'Not Found' : status === 405 ? 'Method Not Allowed' : 'Unsupported Media Type';
    res.writeHead(status, { 'Content-Type': 'text/html;charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><title>HTTP Status ${status} – ${reason}</title></head><body><h1>HTTP Status ${status} – ${reason}</h1></body></html>`);
  }

  function parseJson(body: string): unknown {
    try {
      return JSON.parse(body);
    } catch {
      throw badRequest('Invalid JSON in request body.');
    }
  }

  function publicConnection(c: SimConnection): Record<string, unknown> {
    return { name: c.name, identifier: c.identifier, parentIdentifier: c.parentIdentifier, protocol: c.protocol, attributes: c.attributes, activeConnections: 0 };
  }
  function publicUser(u: SimUser): Record<string, unknown> {
    return { username: u.username, disabled: u.disabled, attributes: { ...u.attributes, disabled: u.disabled ? 'true' : '' } };
  }
  function publicGroup(g: SimGroup): Record<string, unknown> {
    return { name: g.name, identifier: g.identifier, parentIdentifier: g.parentIdentifier, type: g.type, attributes: g.attributes, activeConnections: 0 };
  }
  function publicProfile(p: SimSharingProfile): Record<string, unknown> {
    return { name: p.name, identifier: p.identifier, primaryConnectionIdentifier: p.primaryConnectionIdentifier, attributes: p.attributes };
  }

  function requireAttributes(o: Record<string, unknown>): Record<string, unknown> {
    // Guacamole's attribute filter dereferences the submitted map.
    if (!isObject(o.attributes)) throw internal();
    return o.attributes;
  }

  function checkParameters(parameters: Record<string, string>): void {
    for (const [p, v] of Object.entries(parameters)) {
      if (v.length > MAX_PARAMETER_LENGTH) {
        throw new GuacError(413, 'BAD_REQUEST', `The value provided for connection parameter "${p}" exceeds the maximum allowed length.`);
      }
    }
  }

  function validGroupParent(parent: string): void {
    if (parent !== 'ROOT' && !groups.has(parent)) throw notFound(parent);
  }

  function connectionFromBody(body: unknown, self?: string): Omit<SimConnection, 'identifier' | 'parameters'> & { parameters?: Record<string, string> } {
    if (!isObject(body)) throw badRequest('Invalid JSON in request body.');
    const attributes = requireAttributes(body);
    const name = typeof body.name === 'string' ? body.name : '';
    if (name.trim() === '') throw badRequest('Connection names must not be blank.');
    const parentIdentifier = typeof body.parentIdentifier === 'string' ? body.parentIdentifier : 'ROOT';
    validGroupParent(parentIdentifier);
    for (const c of connections.values()) {
      if (c.identifier !== self && c.name === name && c.parentIdentifier === parentIdentifier) {
        throw badRequest(`The connection "${name}" already exists.`);
      }
    }
    const parameters = isObject(body.parameters) ? stringMap(body.parameters) : undefined;
    if (parameters) checkParameters(parameters);
    const protocol = typeof body.protocol === 'string' ? body.protocol : '';
    if (protocol === '') throw badRequest('Protocol must be specified.');
    return { name, parentIdentifier, protocol, attributes, parameters };
  }

  function removePermissionsOn(kind: keyof Omit<PermissionSet, 'systemPermissions'>, id: string): void {
    for (const u of users.values()) delete u.permissions[kind][id];
  }

  function handleConnections(method: string, parts: string[], body: string, res: ServerResponse): void {
    const [id, sub] = parts;
    if (id === undefined) {
      if (method === 'GET') return send(res, 200, Object.fromEntries([...connections.values()].map((c) => [c.identifier, publicConnection(c)])));
      if (method === 'POST') {
        const c = connectionFromBody(parseJson(body));
        const identifier = String(++seq.connection);
        const conn: SimConnection = { identifier, name: c.name, parentIdentifier: c.parentIdentifier, protocol: c.protocol, parameters: c.parameters ?? {}, attributes: c.attributes };
        connections.set(identifier, conn);
        return send(res, 200, { ...publicConnection(conn), parameters: conn.parameters });
      }
      return sendJerseyError(res, 405);
    }
    const conn = connections.get(id);
    if (sub === 'parameters' && parts.length === 2) {
      if (method !== 'GET') return sendJerseyError(res, 405);
      if (!conn) throw notFound(id);
      return send(res, 200, conn.parameters);
    }
    if (parts.length !== 1) return sendJerseyError(res, 404);
    if (!conn) throw notFound(id);
    if (method === 'GET') return send(res, 200, publicConnection(conn));
    if (method === 'PUT') {
      const c = connectionFromBody(parseJson(body), id);
      Object.assign(conn, { name: c.name, parentIdentifier: c.parentIdentifier, protocol: c.protocol, attributes: c.attributes });
      if (c.parameters) conn.parameters = c.parameters;
      return send(res, 204);
    }
    if (method === 'DELETE') {
      connections.delete(id);
      removePermissionsOn('connectionPermissions', id);
      for (const p of [...profiles.values()]) {
        if (p.primaryConnectionIdentifier === id) {
          profiles.delete(p.identifier);
          removePermissionsOn('sharingProfilePermissions', p.identifier);
        }
      }
      return send(res, 204);
    }
    return sendJerseyError(res, 405);
  }

  function treeOf(groupId: string): Record<string, unknown> {
    const g = groups.get(groupId);
    const childConnections = [...connections.values()].filter((c) => c.parentIdentifier === groupId).map((c) => ({
      ...publicConnection(c),
      sharingProfiles: [...profiles.values()].filter((p) => p.primaryConnectionIdentifier === c.identifier).map(publicProfile),
    }));
    const childConnectionGroups = [...groups.values()].filter((x) => x.parentIdentifier === groupId).map((x) => treeOf(x.identifier));
    const base = g ? publicGroup(g) : { name: 'ROOT', identifier: 'ROOT', type: 'ORGANIZATIONAL', attributes: {}, activeConnections: 0 };
    return { ...base, ...(childConnections.length ? { childConnections } : {}), ...(childConnectionGroups.length ? { childConnectionGroups } : {}) };
  }

  function handleGroups(method: string, parts: string[], body: string, res: ServerResponse): void {
    const [id, sub] = parts;
    const fromBody = (self?: string): Omit<SimGroup, 'identifier'> => {
      const b = parseJson(body);
      if (!isObject(b)) throw badRequest('Invalid JSON in request body.');
      const attributes = requireAttributes(b);
      const name = typeof b.name === 'string' ? b.name : '';
      if (name.trim() === '') throw badRequest('Connection group names must not be blank.');
      const parentIdentifier = typeof b.parentIdentifier === 'string' ? b.parentIdentifier : 'ROOT';
      validGroupParent(parentIdentifier);
      for (const g of groups.values()) {
        if (g.identifier !== self && g.name === name && g.parentIdentifier === parentIdentifier) throw badRequest(`The connection group "${name}" already exists.`);
      }
      const type = b.type === 'BALANCING' ? 'BALANCING' : 'ORGANIZATIONAL';
      return { name, parentIdentifier, type, attributes };
    };
    if (id === undefined) {
      if (method === 'GET') return send(res, 200, Object.fromEntries([...groups.values()].map((g) => [g.identifier, publicGroup(g)])));
      if (method === 'POST') {
        const g = { identifier: String(++seq.group), ...fromBody() };
        groups.set(g.identifier, g);
        return send(res, 200, publicGroup(g));
      }
      return sendJerseyError(res, 405);
    }
    if (sub === 'tree' && parts.length === 2 && method === 'GET') {
      if (id !== 'ROOT' && !groups.has(id)) throw notFound(id);
      return send(res, 200, treeOf(id));
    }
    if (parts.length !== 1) return sendJerseyError(res, 404);
    const g = groups.get(id);
    if (!g) throw notFound(id);
    if (method === 'GET') return send(res, 200, publicGroup(g));
    if (method === 'PUT') {
      Object.assign(g, fromBody(id));
      return send(res, 204);
    }
    if (method === 'DELETE') {
      groups.delete(id);
      removePermissionsOn('connectionGroupPermissions', id);
      return send(res, 204);
    }
    return sendJerseyError(res, 405);
  }

  function handleProfiles(method: string, parts: string[], body: string, res: ServerResponse): void {
    const [id, sub] = parts;
    const fromBody = (self?: string): Omit<SimSharingProfile, 'identifier' | 'parameters'> & { parameters?: Record<string, string> } => {
      const b = parseJson(body);
      if (!isObject(b)) throw badRequest('Invalid JSON in request body.');
      const attributes = requireAttributes(b);
      const name = typeof b.name === 'string' ? b.name : '';
      if (name.trim() === '') throw badRequest('Sharing profile names must not be blank.');
      const primaryConnectionIdentifier = typeof b.primaryConnectionIdentifier === 'string' ? b.primaryConnectionIdentifier : '';
      if (!connections.has(primaryConnectionIdentifier)) throw notFound(primaryConnectionIdentifier);
      for (const p of profiles.values()) {
        if (p.identifier !== self && p.name === name && p.primaryConnectionIdentifier === primaryConnectionIdentifier) {
          throw badRequest(`The sharing profile "${name}" already exists.`);
        }
      }
      const parameters = isObject(b.parameters) ? stringMap(b.parameters) : undefined;
      return { name, primaryConnectionIdentifier, attributes, parameters };
    };
    if (id === undefined) {
      if (method === 'GET') return send(res, 200, Object.fromEntries([...profiles.values()].map((p) => [p.identifier, publicProfile(p)])));
      if (method === 'POST') {
        const b = fromBody();
        const p: SimSharingProfile = { identifier: String(++seq.profile), name: b.name, primaryConnectionIdentifier: b.primaryConnectionIdentifier, attributes: b.attributes, parameters: b.parameters ?? {} };
        profiles.set(p.identifier, p);
        return send(res, 200, { ...publicProfile(p), parameters: p.parameters });
      }
      return sendJerseyError(res, 405);
    }
    const p = profiles.get(id);
    if (sub === 'parameters' && parts.length === 2) {
      if (method !== 'GET') return sendJerseyError(res, 405);
      if (!p) throw notFound(id);
      return send(res, 200, p.parameters);
    }
    if (parts.length !== 1) return sendJerseyError(res, 404);
    if (!p) throw notFound(id);
    if (method === 'GET') return send(res, 200, publicProfile(p));
    if (method === 'PUT') {
      const b = fromBody(id);
      Object.assign(p, { name: b.name, primaryConnectionIdentifier: b.primaryConnectionIdentifier, attributes: b.attributes });
      if (b.parameters) p.parameters = b.parameters;
      return send(res, 204);
    }
    if (method === 'DELETE') {
      profiles.delete(id);
      removePermissionsOn('sharingProfilePermissions', id);
      return send(res, 204);
    }
    return sendJerseyError(res, 405);
  }

  function patchPermissions(u: SimUser, body: string): void {
    const ops = parseJson(body);
    if (!Array.isArray(ops)) throw badRequest('Invalid JSON in request body.');
    // Validate every operation first: the JDBC provider applies the patch in one transaction.
    const planned: Array<() => void> = [];
    for (const raw of ops) {
      const op = isObject(raw) ? raw : {};
      const kind = String(op.op);
      if (kind !== 'add' && kind !== 'remove') throw badRequest(`Unsupported patch operation: "${kind}"`);
      const path = String(op.path);
      const value = String(op.value);
      const m = /^\/(connectionPermissions|connectionGroupPermissions|sharingProfilePermissions|activeConnectionPermissions|userPermissions|userGroupPermissions)\/(.+)$/.exec(path);
      if (m) {
        const set = m[1] as keyof Omit<PermissionSet, 'systemPermissions'>;
        const target = m[2]!;
        if (!OBJECT_PERMS.includes(value)) throw internal();
        const exists =
          set === 'connectionPermissions' ? connections.has(target)
          : set === 'connectionGroupPermissions' ? groups.has(target) || target === 'ROOT'
          : set === 'sharingProfilePermissions' ? profiles.has(target)
          : set === 'userPermissions' ? users.has(target)
          : true;
        // A permission row for a missing object breaks the foreign key.
        if (!exists && kind === 'add') throw internal();
        planned.push(() => {
          const list = u.permissions[set][target] ?? [];
          if (kind === 'add') {
            if (!list.includes(value)) list.push(value);
            u.permissions[set][target] = list;
          } else {
            const rest = list.filter((p) => p !== value);
            if (rest.length) u.permissions[set][target] = rest;
            else delete u.permissions[set][target];
          }
        });
      } else if (path === '/systemPermissions') {
        if (!SYSTEM_PERMS.includes(value)) throw internal();
        planned.push(() => {
          const list = u.permissions.systemPermissions;
          if (kind === 'add') {
            if (!list.includes(value)) list.push(value);
          } else u.permissions.systemPermissions = list.filter((p) => p !== value);
        });
      } else throw badRequest(`Unsupported patch path: "${path}"`);
    }
    for (const apply of planned) apply();
  }

  function handleUsers(method: string, parts: string[], body: string, res: ServerResponse): void {
    const [name, sub] = parts;
    if (name === undefined) {
      if (method === 'GET') return send(res, 200, Object.fromEntries([...users.values()].map((u) => [u.username, publicUser(u)])));
      if (method === 'POST') {
        const b = parseJson(body);
        if (!isObject(b)) throw badRequest('Invalid JSON in request body.');
        const attributes = requireAttributes(b);
        const username = typeof b.username === 'string' ? b.username : '';
        if (username.trim() === '') throw badRequest('The username must not be blank.');
        if (users.has(username)) throw badRequest(`User "${username}" already exists.`);
        const disabled = b.disabled === true || attributes.disabled === 'true';
        const u: SimUser = { username, password: typeof b.password === 'string' ? b.password : '', disabled, attributes: { ...attributes }, permissions: emptyPermissions() };
        delete u.attributes.disabled;
        users.set(username, u);
        return send(res, 200, publicUser(u));
      }
      return sendJerseyError(res, 405);
    }
    const u = users.get(name);
    if (sub === 'permissions' || sub === 'effectivePermissions') {
      if (parts.length !== 2) return sendJerseyError(res, 404);
      if (!u) throw notFound(name);
      if (method === 'GET') return send(res, 200, u.permissions);
      if (method === 'PATCH' && sub === 'permissions') {
        patchPermissions(u, body);
        return send(res, 204);
      }
      return sendJerseyError(res, 405);
    }
    if (parts.length !== 1) return sendJerseyError(res, 404);
    if (!u) throw notFound(name);
    if (method === 'GET') return send(res, 200, publicUser(u));
    if (method === 'PUT') {
      const b = parseJson(body);
      if (!isObject(b)) throw badRequest('Invalid JSON in request body.');
      const attributes = requireAttributes(b);
      if (typeof b.password === 'string') u.password = b.password;
      u.disabled = b.disabled === true || attributes.disabled === 'true';
      u.attributes = { ...attributes };
      delete u.attributes.disabled;
      return send(res, 204);
    }
    if (method === 'DELETE') {
      users.delete(name);
      removePermissionsOn('userPermissions', name);
      return send(res, 204);
    }
    return sendJerseyError(res, 405);
  }

  /**
   * What a user without ADMINISTER sees: directories list only the objects
   * it may READ, other objects are not found, and every change or
   * `/parameters` read is 403 "Permission denied." (delegated CREATE and
   * UPDATE rights are not modelled).
   */
  function restrictedView(user: SimUser, method: string, kind: string, rest: string[], res: ServerResponse): void {
    const denied = new GuacError(403, 'PERMISSION_DENIED', 'Permission denied.');
    const perms = user.permissions;
    const readable = (set: Record<string, string[]>, id: string): boolean => (set[id] ?? []).includes('READ');
    const views: Record<string, { all: () => Array<[string, Record<string, unknown>]>; may: (id: string) => boolean }> = {
      connections: { all: () => [...connections.values()].map((c) => [c.identifier, publicConnection(c)]), may: (id) => readable(perms.connectionPermissions, id) },
      connectionGroups: { all: () => [...groups.values()].map((g) => [g.identifier, publicGroup(g)]), may: (id) => readable(perms.connectionGroupPermissions, id) },
      sharingProfiles: { all: () => [...profiles.values()].map((p) => [p.identifier, publicProfile(p)]), may: (id) => readable(perms.sharingProfilePermissions, id) },
      users: { all: () => [...users.values()].map((x) => [x.username, publicUser(x)]), may: (id) => id === user.username || readable(perms.userPermissions, id) },
    };
    const view = views[kind];
    if (!view) return sendJerseyError(res, 404);
    if (method !== 'GET') throw denied;
    if (rest.length === 0) return send(res, 200, Object.fromEntries(view.all().filter(([id]) => view.may(id))));
    const [id, sub] = rest as [string, string | undefined];
    const found = view.all().find(([x]) => x === id);
    if (!found || !view.may(id)) throw notFound(id);
    if (rest.length === 1) return send(res, 200, found[1]);
    if (kind === 'users' && id === user.username && rest.length === 2 && (sub === 'permissions' || sub === 'effectivePermissions')) return send(res, 200, perms);
    throw denied;
  }

  function tokenOf(req: IncomingMessage, query: URLSearchParams): string | undefined {
    const header = req.headers['guacamole-token'];
    if (typeof header === 'string' && header !== '') return header;
    return query.get('token') ?? undefined;
  }

  function session(token: string | undefined): SimUser {
    const denied = new GuacError(403, 'PERMISSION_DENIED', 'Permission Denied.');
    if (!token) throw denied;
    const s = tokens.get(token);
    if (!s) throw denied;
    if (Date.now() - s.lastUsed > tokenIdleMs) {
      tokens.delete(token);
      throw denied;
    }
    s.lastUsed = Date.now();
    const u = users.get(s.username);
    if (!u) {
      tokens.delete(token);
      throw denied;
    }
    return u;
  }

  function login(req: IncomingMessage, body: string, res: ServerResponse): void {
    const ctype = String(req.headers['content-type'] ?? '');
    const form = ctype.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body) : new URLSearchParams();
    const expected = [
      { name: 'username', type: 'USERNAME' },
      { name: 'password', type: 'PASSWORD' },
    ];
    const existing = form.get('token');
    if (existing && tokens.has(existing) && !form.get('username')) {
      const u = session(existing);
      return send(res, 200, { authToken: existing, username: u.username, dataSource: ds, availableDataSources: dataSources });
    }
    const username = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    const u = users.get(username);
    if (!u || u.password !== password || password === '' || u.disabled) {
      throw new GuacError(403, 'INVALID_CREDENTIALS', 'Invalid login', expected);
    }
    if (mfa) {
      throw new GuacError(403, 'INSUFFICIENT_CREDENTIALS', 'Verification using TOTP is required before proceeding.', [{ name: 'guac-totp', type: 'GUAC_TOTP_CODE' }]);
    }
    const authToken = randomBytes(32).toString('hex').toUpperCase();
    tokens.set(authToken, { username, lastUsed: Date.now() });
    logins++;
    send(res, 200, { authToken, username, dataSource: ds, availableDataSources: dataSources });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const method = req.method ?? 'GET';
    const u = new URL(req.url ?? '/', 'http://sim');
    const redactedQuery = u.search.replace(/token=[^&]*/g, 'token=***');
    requests.push(`${method} ${u.pathname}${redactedQuery}`);
    const apiPrefix = `${contextPath}/api`;
    if (!u.pathname.startsWith(`${apiPrefix}/`)) return sendJerseyError(res, 404);
    const rel = u.pathname.slice(apiPrefix.length);
    const fault = faults.find((f) => !f.match || f.match(method, rel.replace(/^\/session\/data\/[^/]+/, '')));
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.html) {
        res.writeHead(fault.status ?? 502, { 'Content-Type': 'text/html' });
        res.end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>');
        return;
      }
      if (fault.status) return sendError(res, new GuacError(fault.status, fault.type ?? 'INTERNAL_ERROR', fault.message ?? 'Unexpected internal error'));
    }
    try {
      const parts = rel.split('/').filter(Boolean).map(decodeURIComponent);
      if (parts[0] === 'tokens') {
        if (parts.length === 1 && method === 'POST') return login(req, body, res);
        if (parts.length === 2 && method === 'DELETE') {
          if (!tokens.delete(parts[1]!)) throw new GuacError(404, 'NOT_FOUND', 'No such token.');
          return send(res, 204);
        }
        return sendJerseyError(res, parts.length <= 2 ? 405 : 404);
      }
      if (parts[0] !== 'session' || parts[1] !== 'data' || parts.length < 4) return sendJerseyError(res, 404);
      const user = session(tokenOf(req, u.searchParams));
      if (parts[2] !== ds) {
        const known = dataSources.includes(parts[2]!);
        // The sharing provider of §2.2 exists but holds nothing an administrator may change.
        if (!known) throw new GuacError(404, 'NOT_FOUND', `Session not associated with authentication provider "${parts[2]}".`);
        throw new GuacError(403, 'PERMISSION_DENIED', 'Permission denied.');
      }
      const rest = parts.slice(4);
      if (!isAdmin(user)) return restrictedView(user, method, parts[3]!, rest, res);
      switch (parts[3]) {
        case 'connections':
          return handleConnections(method, rest, body, res);
        case 'connectionGroups':
          return handleGroups(method, rest, body, res);
        case 'sharingProfiles':
          return handleProfiles(method, rest, body, res);
        case 'users':
          return handleUsers(method, rest, body, res);
        default:
          return sendJerseyError(res, 404);
      }
    } catch (e) {
      if (e instanceof GuacError) return sendError(res, e);
      throw e;
    }
  }

  const server = await listen(handle, { https: opts.https, port: opts.port });
  const [adminName, adminPassword] = Object.entries(admins)[0]!;
  return {
    url: `${server.origin}${contextPath}`,
    origin: server.origin,
    port: server.port,
    dataSource: ds,
    admin: { username: adminName, password: adminPassword },
    close: () => server.close(),
    expireTokens: () => tokens.clear(),
    setTokenIdleMs: (ms) => {
      tokenIdleMs = ms;
    },
    inject: (f) => faults.push({ ...f }),
    requireMfa: (on) => {
      mfa = on;
    },
    get logins() {
      return logins;
    },
    connections: () => [...connections.values()].map((c) => ({ ...c, parameters: { ...c.parameters } })),
    users: () => [...users.values()].map((x) => ({ username: x.username, disabled: x.disabled, attributes: { ...x.attributes } })),
    sharingProfiles: () => [...profiles.values()].map((p) => ({ ...p })),
    groups: () => [...groups.values()].map((g) => ({ ...g })),
    permissionsOf: (name) => {
      const x = users.get(name);
      return x ? (JSON.parse(JSON.stringify(x.permissions)) as PermissionSet) : undefined;
    },
    parametersOf: (id) => {
      const c = connections.get(id);
      return c ? { ...c.parameters } : undefined;
    },
    addUser: (username, password) => {
      users.set(username, { username, password, disabled: false, attributes: {}, permissions: emptyPermissions() });
    },
    requests,
  };
}
