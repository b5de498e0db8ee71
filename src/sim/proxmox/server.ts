/**
 * A simulated Proxmox VE API server (external-apis.md §1.8): the HTTP side of
 * pveproxy — auth, the `{"data": ...}` envelope, reason-phrase errors, the
 * parameter schema checks — over the cluster model in state.ts.
 */
import { randomUUID, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { simCertificate } from '../tls.js';
import { PveError, SimState, type Caller } from './state.js';

export interface ProxmoxSimToken {
  /** `user@realm` */
  user: string;
  tokenId: string;
  secret: string;
}

export interface ProxmoxSimOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Serve HTTPS with the simulators' self-signed certificate. */
  https?: boolean;
  /** Accepted API tokens; default one random token for labsvc@pve!provisioner. */
  tokens?: ProxmoxSimToken[];
  /** Accepted ticket logins (`POST /access/ticket`). */
  users?: Array<{ username: string; password: string }>;
  /** Put the error text in the body's `message` field too (PVE 8.4+); false emulates older servers. Default true. */
  messageField?: boolean;
  /** Delay before every 401, as real pveproxy does (~3 s). Default 0. */
  authFailureDelayMs?: number;
  /** Nodes to create; default ['pve-a', 'pve-b']. */
  nodes?: string[];
  /** Pools to create; default ['OpenVLE-VMs']. */
  pools?: string[];
}

export interface ProxmoxSim {
  /** Base URL without the API prefix, e.g. http://127.0.0.1:40123 */
  url: string;
  /** `url` + '/api2/json' */
  apiUrl: string;
  port: number;
  token: ProxmoxSimToken;
  /** The whole Authorization header value for `token`. */
  authorization: string;
  /** Set when serving HTTPS. */
  tls?: { cert: string; fingerprint256: string };
  state: SimState;
  faults: SimState['faults'];
  /** Requests received, in order (the latest 10,000 at least): what tests count (e.g. clone calls). */
  requests: Array<{ method: string; path: string }>;
  close(): Promise<void>;
}

const API = '/api2/json';
const DNS_NAME = /^(?=.{1,255}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const VMID = /^[1-9][0-9]{2,8}$/;
const NODE = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;

type ParamType = 'int' | 'vmid' | 'bool' | 'string' | 'dns-name' | 'node';
interface Schema {
  [name: string]: { type: ParamType; required?: boolean };
}
type Params = Record<string, string | boolean | number>;

const S = {
  vmid: { type: 'vmid' as const, required: true },
  node: { type: 'node' as const, required: true },
};

interface Route {
  method: string;
  pattern: RegExp;
  /** Parameters taken from the path, in capture order. */
  pathParams: string[];
  schema: Schema;
  /** Calls under /nodes/{node} are proxied to that node: 595/596 when it is down. */
  proxied?: boolean;
  handler: (p: Params, caller: Caller, state: SimState) => unknown;
}

function route(method: string, path: string, schema: Schema, handler: Route['handler']): Route {
  const pathParams: string[] = [];
  const pattern = new RegExp(
    '^' + path.replace(/\{(\w+)\}/g, (_, name: string) => (pathParams.push(name), '([^/]+)')) + '$',
  );
  return { method, pattern, pathParams, schema, handler, proxied: path.startsWith('/nodes/{node}') };
}

const POWER_SCHEMA: Record<string, Schema> = {
  start: { timeout: { type: 'int' } },
  stop: { timeout: { type: 'int' }, 'overrule-shutdown': { type: 'bool' } },
  shutdown: { timeout: { type: 'int' }, forceStop: { type: 'bool' } },
  reset: {},
  reboot: { timeout: { type: 'int' } },
};

const CONFIG_KEYS: Schema = {
  name: { type: 'dns-name' }, description: { type: 'string' }, tags: { type: 'string' }, cores: { type: 'int' },
  sockets: { type: 'int' }, memory: { type: 'int' }, net0: { type: 'string' }, ipconfig0: { type: 'string' },
  ciuser: { type: 'string' }, sshkeys: { type: 'string' }, onboot: { type: 'bool' }, agent: { type: 'string' },
  protection: { type: 'bool' }, delete: { type: 'string' }, digest: { type: 'string' }, background_delay: { type: 'int' },
};

function str(p: Params, k: string): string | undefined {
  return p[k] === undefined ? undefined : String(p[k]);
}
function configChanges(p: Params): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === 'node' || k === 'vmid' || k === 'background_delay') continue;
    out[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  }
  return out;
}

const ROUTES: Route[] = [
  route('GET', '/version', {}, () => ({ version: '8.4.1', release: '8.4', repoid: '2a5fa54a8503f96d' })),
  route('GET', '/cluster/nextid', { vmid: { type: 'vmid' } }, (p, _c, s) => s.nextId(p.vmid as number | undefined)),
  route('GET', '/cluster/resources', { type: { type: 'string' } }, (p, _c, s) => s.resources(str(p, 'type'))),
  route('GET', '/nodes', {}, (_p, _c, s) =>
    [...s.nodes.values()].map((n) => ({ node: n.name, status: n.down ? 'offline' : 'online', type: 'node', id: `node/${n.name}` })),
  ),
  route('GET', '/nodes/{node}/status', { node: S.node }, (p, _c, s) => s.nodeStatus(p.node as string)),
  route('GET', '/nodes/{node}/qemu', { node: S.node }, (p, _c, s) =>
    s.listVms().filter((v) => v.node === p.node).map((v) => ({ vmid: v.vmid, name: v.name, status: v.status, ...(v.template ? { template: 1 } : {}), ...(v.lock ? { lock: v.lock } : {}) })),
  ),
  route('POST', '/nodes/{node}/qemu/{vmid}/clone', {
    node: S.node, vmid: S.vmid, newid: { type: 'vmid', required: true }, name: { type: 'dns-name' }, description: { type: 'string' },
    full: { type: 'bool' }, storage: { type: 'string' }, format: { type: 'string' }, target: { type: 'node' }, pool: { type: 'string' },
    snapname: { type: 'string' }, bwlimit: { type: 'int' },
  }, (p, c, s) =>
    s.clone(p.node as string, p.vmid as number, {
      newid: p.newid as number, name: str(p, 'name'), description: str(p, 'description'), full: p.full as boolean | undefined,
      target: str(p, 'target'), pool: str(p, 'pool'), storage: str(p, 'storage'), format: str(p, 'format'),
    }, c),
  ),
  ...(['start', 'stop', 'shutdown', 'reset', 'reboot'] as const).map((action) =>
    route('POST', `/nodes/{node}/qemu/{vmid}/status/${action}`, { node: S.node, vmid: S.vmid, ...POWER_SCHEMA[action] }, (p, c, s) =>
      s.power(p.node as string, p.vmid as number, action, c, { forceStop: p.forceStop === true }),
    ),
  ),
  route('GET', '/nodes/{node}/qemu/{vmid}/status/current', { node: S.node, vmid: S.vmid }, (p, _c, s) => s.vmStatus(p.node as string, p.vmid as number)),
  route('DELETE', '/nodes/{node}/qemu/{vmid}', {
    node: S.node, vmid: S.vmid, purge: { type: 'bool' }, 'destroy-unreferenced-disks': { type: 'bool' }, skiplock: { type: 'bool' },
  }, (p, c, s) => {
    if (p.skiplock !== undefined && c.user !== 'root@pam') throw new PveError(400, 'Parameter verification failed.', { skiplock: 'Only root may use this option.' });
    return s.destroy(p.node as string, p.vmid as number, c);
  }),
  route('POST', '/nodes/{node}/qemu/{vmid}/migrate', {
    node: S.node, vmid: S.vmid, target: { type: 'node', required: true }, online: { type: 'bool' }, 'with-local-disks': { type: 'bool' },
    targetstorage: { type: 'string' }, bwlimit: { type: 'int' },
  }, (p, c, s) => s.migrate(p.node as string, p.vmid as number, { target: p.target as string, online: p.online === true }, c)),
  route('GET', '/nodes/{node}/qemu/{vmid}/config', { node: S.node, vmid: S.vmid, current: { type: 'bool' } }, (p, _c, s) =>
    s.vmConfig(p.node as string, p.vmid as number),
  ),
  route('PUT', '/nodes/{node}/qemu/{vmid}/config', { node: S.node, vmid: S.vmid, ...CONFIG_KEYS }, (p, c, s) =>
    s.setConfig(p.node as string, p.vmid as number, configChanges(p), c, false),
  ),
  route('POST', '/nodes/{node}/qemu/{vmid}/config', { node: S.node, vmid: S.vmid, ...CONFIG_KEYS }, (p, c, s) =>
    s.setConfig(p.node as string, p.vmid as number, configChanges(p), c, true),
  ),
  route('GET', '/nodes/{node}/tasks/{upid}/status', { node: S.node, upid: { type: 'string', required: true } }, (p, _c, s) => {
    const t = s.pollTask(p.node as string, p.upid as string);
    const out: Record<string, unknown> = {
      upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user, status: t.status,
    };
    if (t.tokenid) out.tokenid = t.tokenid;
    if (t.exitstatus !== undefined) out.exitstatus = t.exitstatus;
    return out;
  }),
  route('GET', '/nodes/{node}/tasks/{upid}/log', { node: S.node, upid: { type: 'string', required: true }, start: { type: 'int' }, limit: { type: 'int' } }, (p, _c, s) => {
    const t = s.task(p.node as string, p.upid as string);
    const lines = t.log.length ? t.log : ['no content'];
    const start = (p.start as number | undefined) ?? 0;
    const limit = (p.limit as number | undefined) ?? 50;
    return { __total: lines.length, data: lines.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t })) };
  }),
  route('DELETE', '/nodes/{node}/tasks/{upid}', { node: S.node, upid: { type: 'string', required: true } }, (p, _c, s) => {
    s.stopTask(p.node as string, p.upid as string);
    return null;
  }),
  route('GET', '/pools', {}, (_p, _c, s) => [...s.pools.entries()].map(([poolid, v]) => ({ poolid, ...(v.comment ? { comment: v.comment } : {}) }))),
  route('POST', '/pools', { poolid: { type: 'string', required: true }, comment: { type: 'string' } }, (p, _c, s) => {
    if (s.pools.has(p.poolid as string)) throw new PveError(500, `create pool failed: pool '${p.poolid}' already exists`);
    s.addPool(p.poolid as string, str(p, 'comment'));
    return null;
  }),
  route('GET', '/pools/{poolid}', { poolid: { type: 'string', required: true } }, (p, _c, s) => {
    const pool = s.pools.get(p.poolid as string);
    if (!pool) throw new PveError(500, `pool '${p.poolid}' does not exist`);
    const members = s.listVms().filter((v) => v.pool === p.poolid).map((v) => ({ id: `qemu/${v.vmid}`, type: 'qemu', vmid: v.vmid, node: v.node, name: v.name, status: v.status }));
    return { members, ...(pool.comment ? { comment: pool.comment } : {}) };
  }),
];

/** Checks and converts parameters as PVE's JSONSchema does; form booleans must be 1/0. */
function validate(schema: Schema, raw: Record<string, unknown>, fromForm: Set<string>): Params {
  const errors: Record<string, string> = {};
  const out: Params = {};
  for (const [k, v] of Object.entries(raw)) {
    const def = schema[k];
    if (!def) {
      errors[k] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    const s = String(v);
    switch (def.type) {
      case 'bool':
        if (typeof v === 'boolean' && !fromForm.has(k)) out[k] = v;
        else if (s === '1' || s === '0') out[k] = s === '1';
        else errors[k] = `type check ('boolean') failed - got '${s}'`;
        break;
      case 'int':
        if (/^-?\d+$/.test(s)) out[k] = Number(s);
        else errors[k] = `type check ('integer') failed - got '${s}'`;
        break;
      case 'vmid':
        if (VMID.test(s)) out[k] = Number(s);
        else errors[k] = 'invalid format - value does not look like a valid VM ID';
        break;
      case 'dns-name':
        if (DNS_NAME.test(s)) out[k] = s;
        else errors[k] = 'invalid format - value does not look like a valid DNS name';
        break;
      case 'node':
        if (NODE.test(s)) out[k] = s;
        else errors[k] = 'invalid format - value does not look like a valid node name';
        break;
      default:
        out[k] = s;
    }
  }
  for (const [k, def] of Object.entries(schema)) {
    if (def.required && raw[k] === undefined) errors[k] = 'property is missing and it is not optional';
  }
  if (Object.keys(errors).length) throw new PveError(400, 'Parameter verification failed.', errors);
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/** Starts a simulated Proxmox VE API on 127.0.0.1. */
export async function startProxmoxSim(options: ProxmoxSimOptions = {}): Promise<ProxmoxSim> {
  const state = new SimState();
  for (const n of options.nodes ?? ['pve-a', 'pve-b']) state.addNode(n);
  for (const p of options.pools ?? ['OpenVLE-VMs']) state.addPool(p);
  const tokens = options.tokens ?? [{ user: 'labsvc@pve', tokenId: 'provisioner', secret: randomUUID() }];
  const users = options.users ?? [];
  const messageField = options.messageField ?? true;
  const authDelay = options.authFailureDelayMs ?? 0;
  const tickets = new Map<string, { user: string; csrf: string }>();
  const requests: ProxmoxSim['requests'] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const send = (res: ServerResponse, status: number, body: unknown, extra: Record<string, unknown> = {}) => {
    const text = JSON.stringify({ data: body, ...extra });
    res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };
  const sendError = (res: ServerResponse, err: PveError) => {
    // The reason phrase carries the first line of the message (§1.3); error answers close the connection.
    const reason = err.message.split('\n')[0]!;
    const body: Record<string, unknown> = { data: null };
    if (err.errors) body.errors = Object.fromEntries(Object.entries(err.errors).map(([k, v]) => [k, `${v}\n`]));
    if (messageField) body.message = `${err.message}\n`;
    const text = JSON.stringify(body);
    res.writeHead(err.status, reason, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text), Connection: 'close' });
    res.end(text);
  };
  const sendAuthFailure = async (res: ServerResponse, reason: string) => {
    if (authDelay) await sleep(authDelay);
    res.writeHead(401, reason, { 'Content-Length': 0, Connection: 'close' });
    res.end();
  };

  const authenticate = (req: IncomingMessage, method: string): Caller | { fail: string } => {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^PVEAPIToken=(.+)$/.exec(auth.trim());
      if (!m) return { fail: 'Authentication failed!' };
      // Split at the last '=' for the secret, then the token id at '!' (AccessControl.pm verify_token).
      const full = m[1]!;
      const eq = full.lastIndexOf('=');
      const bang = full.lastIndexOf('!', eq);
      if (eq < 0 || bang < 0) return { fail: 'Authentication failed!' };
      const user = full.slice(0, bang);
      const tokenId = full.slice(bang + 1, eq);
      const secret = full.slice(eq + 1);
      const ok = tokens.find((t) => t.user === user && t.tokenId === tokenId && t.secret === secret);
      return ok ? { user, tokenid: tokenId } : { fail: 'Authentication failed!' };
    }
    const ticket = cookies(req).PVEAuthCookie;
    if (!ticket) return { fail: 'No ticket' };
    const t = tickets.get(ticket);
    if (!t) return { fail: 'Authentication failed!' };
    if (method !== 'GET' && req.headers.csrfpreventiontoken !== t.csrf) return { fail: 'Permission denied - invalid csrf token' };
    return { user: t.user };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const u = new URL(req.url ?? '/', 'http://sim');
    requests.push({ method, path: u.pathname });
    // Bounded, so a simulator left running for a demo does not grow without end.
    if (requests.length > 20_000) requests.splice(0, 10_000);
    const bodyText = await readBody(req);
    for (const [prefix, ms] of state.faults.slow) {
      if (u.pathname.slice(API.length).startsWith(prefix)) await sleep(ms);
    }
    if (!u.pathname.startsWith(API + '/')) {
      return sendError(res, new PveError(501, `Method '${method} ${u.pathname}' not implemented`));
    }
    const path = u.pathname.slice(API.length);
    if ((method === 'GET' || method === 'DELETE') && bodyText.length > 0) {
      return sendError(res, new PveError(501, `Unexpected content for method '${method}'`));
    }
    // Parameters: query string, plus a form or JSON body for POST/PUT.
    const raw: Record<string, unknown> = Object.fromEntries(u.searchParams);
    const fromForm = new Set(Object.keys(raw));
    if (bodyText) {
      const ct = req.headers['content-type'] ?? '';
      if (ct.startsWith('application/json')) {
        try {
          Object.assign(raw, JSON.parse(bodyText) as Record<string, unknown>);
        } catch {
          return sendError(res, new PveError(400, 'Parameter verification failed.', { body: 'malformed JSON' }));
        }
      } else {
        for (const [k, v] of new URLSearchParams(bodyText)) {
          raw[k] = v;
          fromForm.add(k);
        }
      }
    }

    if (method === 'POST' && path === '/access/ticket') {
      const username = String(raw.username ?? '');
      const password = String(raw.password ?? '');
      const known = users.find((x) => x.username === username && x.password === password);
      const renewed = tickets.get(password);
      const user = known?.username ?? (renewed && renewed.user === username ? renewed.user : undefined);
      if (!user) {
        if (authDelay) await sleep(authDelay);
        return sendError(res, new PveError(401, 'authentication failure'));
      }
      const stamp = Math.floor(Date.now() / 1000).toString(16).toUpperCase();
      const ticket = `PVE:${user}:${stamp}::${randomBytes(24).toString('base64')}`;
      const csrf = `${stamp}:${randomBytes(16).toString('base64').replace(/=+$/, '')}`;
      tickets.set(ticket, { user, csrf });
      return send(res, 200, { username: user, ticket, CSRFPreventionToken: csrf, clustername: 'sim', cap: {} });
    }

    const who = authenticate(req, method);
    if ('fail' in who) return sendAuthFailure(res, who.fail);

    for (const [prefix, text] of state.faults.forbidden) {
      if (path.startsWith(prefix)) return sendError(res, new PveError(403, text));
    }

    let matched: Route | undefined;
    let m: RegExpExecArray | null = null;
    for (const r of ROUTES) {
      if (r.method !== method) continue;
      m = r.pattern.exec(path);
      if (m) {
        matched = r;
        break;
      }
    }
    if (!matched || !m) return sendError(res, new PveError(501, `Method '${method} ${path}' not implemented`));
    matched.pathParams.forEach((name, i) => {
      raw[name] = decodeURIComponent(m![i + 1]!);
    });
    try {
      if (matched.proxied) {
        const node = state.nodes.get(String(raw.node));
        if (node?.down === 595) throw new PveError(595, 'Errors during connection establishment, proxy handshake: Connection refused');
        if (node?.down === 596) throw new PveError(596, 'Errors during TLS negotiation, request sending and header processing: Connection timed out');
      }
      const params = validate(matched.schema, raw, fromForm);
      const result = matched.handler(params, who, state);
      if (result && typeof result === 'object' && '__total' in result) {
        const r = result as { __total: number; data: unknown };
        return send(res, 200, r.data, { total: r.__total });
      }
      return send(res, 200, result ?? null);
    } catch (err) {
      if (err instanceof PveError) return sendError(res, err);
      return sendError(res, new PveError(500, String((err as Error).message ?? err)));
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, new PveError(500, String(err)));
      else res.destroy();
    });
  };
  let server: Server;
  let tls: ProxmoxSim['tls'];
  if (options.https) {
    const c = simCertificate();
    tls = { cert: c.cert, fingerprint256: c.fingerprint256 };
    server = createHttpsServer({ cert: c.cert, key: c.key }, listener);
  } else {
    server = createHttpServer(listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`;
  const token = tokens[0]!;
  return {
    url,
    apiUrl: url + API,
    port,
    token,
    authorization: `PVEAPIToken=${token.user}!${token.tokenId}=${token.secret}`,
    tls,
    state,
    faults: state.faults,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        state.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
