import type { Agent } from 'undici';
import { silentLogger, type Logger } from '../../../index.js';
import { clip, ExternalError, failure, redactSecrets, type FailureDetails } from '../failure.js';
import { makeAgent, TransportError, webCall, type WebAnswer } from '../web-call.js';
import { classifyGuacamole, parseGuacamoleError } from './classify.js';
import type { GuacamoleConfig } from './config.js';

/** APIConnection (external-apis.md §2.3); every identifier and parameter value is a string. */
export interface GuacConnection {
  identifier?: string;
  name: string;
  parentIdentifier: string;
  protocol: string;
  parameters?: Record<string, string>;
  attributes: Record<string, string | null>;
  activeConnections?: number;
}
export interface GuacSharingProfile {
  identifier?: string;
  name: string;
  primaryConnectionIdentifier: string;
  parameters?: Record<string, string>;
  attributes: Record<string, string | null>;
}
export interface GuacConnectionGroup {
  identifier?: string;
  name: string;
  parentIdentifier: string;
  type: 'ORGANIZATIONAL' | 'BALANCING';
  attributes: Record<string, string | null>;
}
export interface GuacUser {
  username: string;
  password?: string;
  disabled?: boolean;
  attributes: Record<string, string | null>;
}
export interface PermissionPatch {
  op: 'add' | 'remove';
  path: string;
  value: string;
}
export type GuacPermissionSet = Record<string, unknown>;

export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * Guacamole's REST API as the service account sees it: logs in with a
 * form POST to /api/tokens, sends the token in the Guacamole-Token header,
 * and on a 403 from a session call logs in once more and repeats the call
 * (tokens expire after api-session-timeout idle minutes). Every failure is
 * thrown as classified by classifyGuacamole; 'already_done' is thrown too
 * (an ExternalError), for the recipes to adopt or to treat as success.
 */
export class GuacamoleClient {
  private readonly agent: Agent;
  private readonly logger: Logger;
  private token: string | undefined;
  private loggingIn: Promise<string> | undefined;

  constructor(
    readonly config: GuacamoleConfig,
    opts: { logger?: Logger } = {},
  ) {
    this.agent = makeAgent({ verify: config.verifyTls, caFile: config.caFile });
    this.logger = opts.logger ?? silentLogger;
  }

  private redact(text: string): string {
    return redactSecrets(text, [this.config.password, this.token]);
  }

  private details(operation: string, status?: number, code?: string, body?: string): FailureDetails {
    return {
      system: 'guacamole',
      operation,
      ...(status !== undefined ? { status } : {}),
      ...(code !== undefined ? { code } : {}),
      ...(body !== undefined ? { body: clip(this.redact(body)) } : {}),
    };
  }

  private async send(method: string, url: string, operation: string, headers: Record<string, string>, body: string | undefined, signal?: AbortSignal): Promise<WebAnswer> {
    try {
      return await webCall(this.agent, { method, url, headers, body, timeoutMs: this.config.timeoutMs, signal });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      const cls = err.kind === 'tls' ? 'permanent_config' : 'transient';
      this.logger.warning(`guacamole ${operation}: ${this.redact(err.message)}`);
      throw failure(cls, `Guacamole ${operation}: ${this.redact(err.message)}`, this.details(operation, undefined, err.code), err);
    }
  }

  /** Throws the classified error for a non-OK answer, after logging it. */
  private fail(operation: string, method: string, answer: WebAnswer): never {
    const parsed = parseGuacamoleError(answer.text);
    const cls = classifyGuacamole({ status: answer.status, method, ...parsed });
    this.logger.warning(`guacamole ${operation} -> HTTP ${answer.status}: ${clip(this.redact(answer.text))}`);
    const what = parsed?.message ?? `HTTP ${answer.status}`;
    const details = this.details(operation, answer.status, parsed?.type, answer.text);
    const message = `Guacamole ${operation}: ${this.redact(what)}`;
    if (cls === 'already_done') throw new ExternalError(message, 'already_done', details);
    throw failure(cls, message, details);
  }

  /** Logs in (once for concurrent callers) and returns the new token. */
  login(opts: CallOptions = {}): Promise<string> {
    this.loggingIn ??= this.doLogin(opts.signal).finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  private async doLogin(signal?: AbortSignal): Promise<string> {
    const operation = 'POST /api/tokens';
    const form = new URLSearchParams({ username: this.config.username, password: this.config.password }).toString();
    const answer = await this.send('POST', `${this.config.url}/api/tokens`, operation, { 'Content-Type': 'application/x-www-form-urlencoded' }, form, signal);
    if (answer.status !== 200) this.fail(operation, 'POST', answer);
    let body: { authToken?: unknown; availableDataSources?: unknown };
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch {
      this.logger.warning(`guacamole ${operation} -> HTTP 200 without JSON: ${clip(this.redact(answer.text))}`);
      throw failure('transient', `Guacamole ${operation}: the answer is not JSON`, this.details(operation, 200, undefined, answer.text));
    }
    if (typeof body.authToken !== 'string') throw failure('transient', `Guacamole ${operation}: no authToken in the answer`, this.details(operation, 200));
    const available = Array.isArray(body.availableDataSources) ? body.availableDataSources.map(String) : [];
    if (!available.includes(this.config.dataSource)) {
      throw failure(
        'permanent_config',
        `Guacamole data source '${this.config.dataSource}' (GUACAMOLE_DB_TYPE) is not available to ${this.config.username}; available: ${available.join(', ') || 'none'}`,
        this.details(operation, 200, 'DATA_SOURCE'),
      );
    }
    this.token = body.authToken;
    return body.authToken;
  }

  /** Ends the session on the server (a 404 means it had already ended). */
  async logout(opts: CallOptions = {}): Promise<void> {
    const token = this.token;
    if (!token) return;
    this.token = undefined;
    const answer = await this.send('DELETE', `${this.config.url}/api/tokens/${encodeURIComponent(token)}`, 'DELETE /api/tokens/***', {}, undefined, opts.signal);
    if (answer.status !== 204 && answer.status !== 404 && answer.status !== 200) this.fail('DELETE /api/tokens/***', 'DELETE', answer);
  }

  /**
   * One call under /api/session/data/{ds}. Returns the parsed JSON body,
   * or undefined for 204. A 403 leads to one fresh login and one repeat.
   */
  async call<T>(method: string, path: string, opts: CallOptions & { body?: unknown } = {}): Promise<T | undefined> {
    const operation = `${method} ${path}`;
    const url = `${this.config.url}/api/session/data/${encodeURIComponent(this.config.dataSource)}${path}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' };
    let relogged = false;
    for (;;) {
      const token = this.token ?? (await this.login(opts));
      const answer = await this.send(method, url, operation, { ...headers, 'Guacamole-Token': token }, body, opts.signal);
      if (answer.status === 403 && !relogged) {
        relogged = true;
        this.logger.info(`guacamole ${operation} -> HTTP 403; logging in again once`);
        if (this.token === token) this.token = undefined;
        continue;
      }
      if (answer.status === 204) return undefined;
      if (answer.status < 200 || answer.status >= 300) this.fail(operation, method, answer);
      if (answer.text === '') return undefined;
      try {
        return JSON.parse(answer.text) as T;
      } catch {
        this.logger.warning(`guacamole ${operation} -> HTTP ${answer.status} without JSON: ${clip(this.redact(answer.text))}`);
        throw failure('transient', `Guacamole ${operation}: the answer is not JSON`, this.details(operation, answer.status, undefined, answer.text));
      }
    }
  }

  // --- connections ---
  async listConnections(opts?: CallOptions): Promise<Record<string, GuacConnection>> {
    return (await this.call<Record<string, GuacConnection>>('GET', '/connections', opts)) ?? {};
  }
  async getConnectionParameters(id: string, opts?: CallOptions): Promise<Record<string, string>> {
    return (await this.call<Record<string, string>>('GET', `/connections/${encodeURIComponent(id)}/parameters`, opts)) ?? {};
  }
  /** Creates a connection and returns its identifier. */
  async createConnection(c: GuacConnection, opts?: CallOptions): Promise<string> {
    const created = await this.call<GuacConnection>('POST', '/connections', { ...opts, body: c });
    if (!created?.identifier) throw failure('transient', 'Guacamole POST /connections: no identifier in the answer', this.details('POST /connections', 200));
    return String(created.identifier);
  }
  /** Replaces a connection (PUT is a full replace: name, parent, protocol, parameters, attributes). */
  async updateConnection(id: string, c: GuacConnection, opts?: CallOptions): Promise<void> {
    await this.call('PUT', `/connections/${encodeURIComponent(id)}`, { ...opts, body: c });
  }
  /** Deletes a connection; 'already_done' when it was gone. */
  async deleteConnection(id: string, opts?: CallOptions): Promise<'deleted' | 'already_done'> {
    return this.deleteObject(`/connections/${encodeURIComponent(id)}`, opts);
  }

  // --- connection groups ---
  async listConnectionGroups(opts?: CallOptions): Promise<Record<string, GuacConnectionGroup>> {
    return (await this.call<Record<string, GuacConnectionGroup>>('GET', '/connectionGroups', opts)) ?? {};
  }
  async createConnectionGroup(g: GuacConnectionGroup, opts?: CallOptions): Promise<string> {
    const created = await this.call<GuacConnectionGroup>('POST', '/connectionGroups', { ...opts, body: g });
    if (!created?.identifier) throw failure('transient', 'Guacamole POST /connectionGroups: no identifier in the answer', this.details('POST /connectionGroups', 200));
    return String(created.identifier);
  }

  // --- sharing profiles ---
  async listSharingProfiles(opts?: CallOptions): Promise<Record<string, GuacSharingProfile>> {
    return (await this.call<Record<string, GuacSharingProfile>>('GET', '/sharingProfiles', opts)) ?? {};
  }
  async createSharingProfile(p: GuacSharingProfile, opts?: CallOptions): Promise<string> {
    const created = await this.call<GuacSharingProfile>('POST', '/sharingProfiles', { ...opts, body: p });
    if (!created?.identifier) throw failure('transient', 'Guacamole POST /sharingProfiles: no identifier in the answer', this.details('POST /sharingProfiles', 200));
    return String(created.identifier);
  }
  async deleteSharingProfile(id: string, opts?: CallOptions): Promise<'deleted' | 'already_done'> {
    return this.deleteObject(`/sharingProfiles/${encodeURIComponent(id)}`, opts);
  }

  // --- users ---
  /** The user, or undefined when Guacamole has none by that name. */
  async getUser(username: string, opts?: CallOptions): Promise<GuacUser | undefined> {
    try {
      return await this.call<GuacUser>('GET', `/users/${encodeURIComponent(username)}`, opts);
    } catch (err) {
      if ((err as { details?: FailureDetails }).details?.status === 404 && (err as { details?: FailureDetails }).details?.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }
  async createUser(u: GuacUser, opts?: CallOptions): Promise<void> {
    await this.call('POST', '/users', { ...opts, body: u });
  }
  async deleteUser(username: string, opts?: CallOptions): Promise<'deleted' | 'already_done'> {
    return this.deleteObject(`/users/${encodeURIComponent(username)}`, opts);
  }
  async getPermissions(username: string, opts?: CallOptions): Promise<GuacPermissionSet> {
    return (await this.call<GuacPermissionSet>('GET', `/users/${encodeURIComponent(username)}/permissions`, opts)) ?? {};
  }
  /** Applies permission add/remove operations; adding a held permission changes nothing. */
  async patchPermissions(username: string, ops: PermissionPatch[], opts?: CallOptions): Promise<void> {
    if (ops.length === 0) return;
    await this.call('PATCH', `/users/${encodeURIComponent(username)}/permissions`, { ...opts, body: ops });
  }

  private async deleteObject(path: string, opts?: CallOptions): Promise<'deleted' | 'already_done'> {
    try {
      await this.call('DELETE', path, opts);
      return 'deleted';
    } catch (err) {
      if (err instanceof ExternalError && err.failureClass === 'already_done') return 'already_done';
      throw err;
    }
  }

  /** Closes the client's connections (not the Guacamole session: see logout). */
  async close(): Promise<void> {
    await this.agent.close();
  }
}
