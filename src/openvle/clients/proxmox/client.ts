/**
 * Proxmox VE API client (external-apis.md §1) on undici: API-token auth,
 * form bodies with 1/0 booleans, task polling, and one classifier for every
 * failure (classify.ts). Methods that start a task wait for it by default
 * and report `already_done` when the VM was already in the wanted state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { silentLogger, type Logger } from '../../../index.js';
import { clip, ExternalError, failure, redactSecrets } from '../failure.js';
import { classifyNetworkError, classifyProxmoxFailure, opOfTaskType, type ProxmoxOp } from './classify.js';
import type { ProxmoxConfig } from './config.js';
import { proxmoxDispatcher } from './transport.js';
import { parseUpid } from './upid.js';

export interface ProxmoxClientOptions {
  logger?: Logger;
  /** Timeout of every synchronous call; default 60 s (pveproxy gives up proxying after 30 s). */
  timeoutMs?: number;
  /** Task polling interval: a random value between min and max; default 1–2 s. */
  taskPoll?: { minMs: number; maxMs: number };
  /** Polling deadline per task type (qmclone, qmstart, ...; `default` for others), overriding the defaults. */
  taskDeadlinesMs?: Record<string, number>;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** How long to poll before giving up (a transient failure: the job retries and resumes polling). */
  deadlineMs?: number;
}

export interface ActionOptions extends CallOptions {
  /** Wait for the task to end (default true). */
  wait?: boolean;
  deadlineMs?: number;
  /** Called with the UPID as soon as the task is started, before polling: persist it to resume after a crash. */
  onTask?: (upid: string) => void | Promise<void>;
}

export interface ActionResult {
  /** done: the task ended OK (or with warnings); already_done: nothing needed doing; started: not waited for. */
  outcome: 'done' | 'already_done' | 'started';
  upid?: string;
  exitstatus?: string;
}

export interface TaskStatus {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  tokenid?: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  starttime: number;
}

export interface VmResource {
  id: string;
  type: 'qemu' | 'lxc';
  vmid: number;
  node: string;
  name?: string;
  status: string;
  template?: number;
  lock?: string;
  pool?: string;
  tags?: string;
  [key: string]: unknown;
}

export interface NodeResource {
  id: string;
  type: 'node';
  node: string;
  status: 'online' | 'offline' | 'unknown';
  [key: string]: unknown;
}

export interface VmStatus {
  vmid: number;
  name?: string;
  status: 'running' | 'stopped';
  qmpstatus?: string;
  lock?: string;
  template?: number;
  [key: string]: unknown;
}

export interface CloneParams {
  newid: number;
  name?: string;
  description?: string;
  full?: boolean;
  target?: string;
  pool?: string;
  storage?: string;
  format?: 'raw' | 'qcow2' | 'vmdk';
}

type ParamValue = string | number | boolean | undefined;
type Params = Record<string, ParamValue>;

const DEFAULT_DEADLINES: Record<string, number> = {
  qmclone: 2 * 3600_000,
  qmigrate: 2 * 3600_000,
  qmdestroy: 10 * 60_000,
  qmstart: 5 * 60_000,
  qmstop: 5 * 60_000,
  qmshutdown: 10 * 60_000,
  qmreset: 5 * 60_000,
  qmreboot: 10 * 60_000,
  default: 10 * 60_000,
};

/** Form/query encoding as PVE wants it: booleans as 1/0, undefined left out. */
export function encodeParams(params: Params): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    out.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return out.toString();
}

/** `details.code` of the error thrown when a task ended with a failed exit status (not when polling failed). */
export const TASK_FAILED = 'TASK_FAILED';

const seg = (s: string | number) => encodeURIComponent(String(s));

export class ProxmoxClient {
  private readonly dispatcher: Dispatcher;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly poll: { minMs: number; maxMs: number };
  private readonly deadlines: Record<string, number>;
  private readonly authorization: string;

  constructor(
    readonly config: ProxmoxConfig,
    options: ProxmoxClientOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.poll = options.taskPoll ?? { minMs: 1000, maxMs: 2000 };
    this.deadlines = { ...DEFAULT_DEADLINES, ...options.taskDeadlinesMs };
    this.authorization = `PVEAPIToken=${config.user}!${config.tokenName}=${config.tokenValue}`;
    this.dispatcher = proxmoxDispatcher(config, Math.min(this.timeoutMs, 30_000));
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private redact(text: string): string {
    return redactSecrets(text, [this.config.tokenValue]);
  }

  /**
   * One API call. Returns the `data` of a 200, `{ alreadyDone }` when the
   * classifier says the wanted state already holds, and throws the
   * classified error otherwise. An abort by the caller's signal rethrows the
   * signal's reason unclassified: the job was cancelled, Proxmox did not fail.
   */
  private async call<T>(method: string, path: string, params: Params, op: ProxmoxOp, opts: CallOptions = {}): Promise<{ data: T } | { alreadyDone: string }> {
    const operation = `${method} ${path}`;
    const encoded = encodeParams(params);
    const hasBody = (method === 'POST' || method === 'PUT') && encoded.length > 0;
    const url = `${this.config.apiUrl}${path}${!hasBody && encoded ? `?${encoded}` : ''}`;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    opts.signal?.throwIfAborted();
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('timeout')), timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
    let statusCode: number;
    let statusText: string;
    let text: string;
    try {
      const res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        dispatcher: this.dispatcher,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        headers: {
          Authorization: this.authorization,
          Accept: 'application/json',
          ...(hasBody ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: hasBody ? encoded : undefined,
      });
      statusCode = res.statusCode;
      statusText = res.statusText ?? '';
      text = await res.body.text();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if (timeout.signal.aborted) {
        throw failure('transient', `Proxmox ${operation} timed out after ${timeoutMs} ms`, { system: 'proxmox', operation }, err);
      }
      const cls = classifyNetworkError(err);
      const code = (err as { code?: string }).code;
      const message = this.redact(`Proxmox ${operation} failed: ${(err as Error).message}${code ? ` (${code})` : ''}`);
      this.logger.warning(message);
      throw failure(cls, message, { system: 'proxmox', operation, code }, err);
    } finally {
      clearTimeout(timer);
    }

    let body: { data?: unknown; message?: unknown; errors?: unknown } | undefined;
    try {
      body = text ? (JSON.parse(text) as typeof body) : undefined;
    } catch {
      body = undefined;
    }
    if (statusCode === 200 && body && 'data' in body) return { data: body.data as T };

    const redactedBody = clip(this.redact(text));
    this.logger.warning(`Proxmox ${operation} answered ${statusCode} ${this.redact(statusText)}: ${redactedBody || '(empty body)'}`);
    if (statusCode === 200) {
      // A 200 without the envelope is not Proxmox' JSON formatter (a proxy's page, the extjs formatter).
      throw failure('permanent', `Proxmox ${operation}: answer without a data envelope`, { system: 'proxmox', status: statusCode, operation, body: redactedBody });
    }
    const message = (typeof body?.message === 'string' ? body.message : statusText).trim() || `HTTP ${statusCode}`;
    const errors =
      body?.errors && typeof body.errors === 'object'
        ? Object.fromEntries(Object.entries(body.errors as Record<string, unknown>).map(([k, v]) => [k, String(v).trim()]))
        : undefined;
    const cls = classifyProxmoxFailure({ op, status: statusCode, message, errors });
    if (cls === 'already_done') return { alreadyDone: message };
    const detail = errors ? ` (${Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join('; ')})` : '';
    throw failure(cls, this.redact(`Proxmox ${operation}: ${statusCode} ${message}${detail}`), {
      system: 'proxmox',
      status: statusCode,
      operation,
      body: redactedBody,
    });
  }

  private async read<T>(path: string, params: Params = {}, opts?: CallOptions): Promise<T> {
    const r = await this.call<T>('GET', path, params, 'read', opts);
    if ('alreadyDone' in r) throw new Error(`unexpected: ${r.alreadyDone}`);
    return r.data;
  }

  // ---- cluster ----

  /** The next free VMID (not reserved: another client may take it first). Proxmox sends it as a string or a number. */
  async nextId(opts?: CallOptions & { vmid?: number }): Promise<number> {
    const r = await this.call<unknown>('GET', '/cluster/nextid', { vmid: opts?.vmid }, 'nextid', opts);
    if ('alreadyDone' in r) throw new Error(`unexpected: ${r.alreadyDone}`);
    const id = typeof r.data === 'number' ? r.data : typeof r.data === 'string' && /^\d+$/.test(r.data) ? Number(r.data) : NaN;
    if (!Number.isSafeInteger(id) || id < 100) {
      throw failure('permanent', `Proxmox /cluster/nextid returned ${clip(JSON.stringify(r.data), 100)}, not a VMID`, { system: 'proxmox', operation: 'GET /cluster/nextid' });
    }
    return id;
  }

  resources(type?: 'vm' | 'node' | 'storage' | 'sdn', opts?: CallOptions): Promise<Array<Record<string, unknown>>> {
    return this.read('/cluster/resources', { type }, opts);
  }

  async listVms(opts?: CallOptions): Promise<VmResource[]> {
    const all = (await this.resources('vm', opts)) as VmResource[];
    return all.filter((r) => r.type === 'qemu').map((r) => ({ ...r, vmid: Number(r.vmid) }));
  }

  async templates(opts?: CallOptions): Promise<VmResource[]> {
    return (await this.listVms(opts)).filter((v) => Number(v.template) === 1);
  }

  async findVm(vmid: number, opts?: CallOptions): Promise<VmResource | undefined> {
    return (await this.listVms(opts)).find((v) => v.vmid === vmid);
  }

  /** The VM with this name (the lowest VMID if several, which the caller should log as a leftover). */
  async findVmByName(name: string, opts?: CallOptions): Promise<VmResource | undefined> {
    return (await this.listVms(opts)).filter((v) => v.name === name).sort((a, b) => a.vmid - b.vmid)[0];
  }

  async nodes(opts?: CallOptions): Promise<NodeResource[]> {
    return (await this.resources('node', opts)) as NodeResource[];
  }

  nodeStatus(node: string, opts?: CallOptions): Promise<Record<string, unknown>> {
    return this.read(`/nodes/${seg(node)}/status`, {}, opts);
  }

  // ---- VMs ----

  vmStatus(node: string, vmid: number, opts?: CallOptions): Promise<VmStatus> {
    return this.read(`/nodes/${seg(node)}/qemu/${vmid}/status/current`, {}, opts);
  }

  vmConfig(node: string, vmid: number, opts?: CallOptions): Promise<Record<string, unknown> & { digest: string }> {
    return this.read(`/nodes/${seg(node)}/qemu/${vmid}/config`, {}, opts);
  }

  /** Synchronous config change (PUT): names, descriptions, tags, cloud-init. `sshkeys` is URL-encoded as PVE requires. */
  async setVmConfig(node: string, vmid: number, changes: Params & { delete?: string; digest?: string }, opts?: CallOptions): Promise<void> {
    const params: Params = { ...changes };
    if (typeof params.sshkeys === 'string') params.sshkeys = encodeURIComponent(params.sshkeys);
    const r = await this.call('PUT', `/nodes/${seg(node)}/qemu/${vmid}/config`, params, 'config', opts);
    if ('alreadyDone' in r) throw new Error(`unexpected: ${r.alreadyDone}`);
  }

  /** Starts a clone task on the template's node; returns its UPID. */
  async clone(node: string, vmid: number, p: CloneParams, opts?: CallOptions): Promise<string> {
    const r = await this.call<string>('POST', `/nodes/${seg(node)}/qemu/${vmid}/clone`, { ...p }, 'clone', opts);
    if ('alreadyDone' in r) throw new Error(`unexpected: ${r.alreadyDone}`);
    return this.checkUpid(r.data, `POST /nodes/${node}/qemu/${vmid}/clone`);
  }

  startVm(node: string, vmid: number, opts?: ActionOptions): Promise<ActionResult> {
    return this.action('POST', `/nodes/${seg(node)}/qemu/${vmid}/status/start`, {}, 'start', opts);
  }

  stopVm(node: string, vmid: number, opts?: ActionOptions): Promise<ActionResult> {
    return this.action('POST', `/nodes/${seg(node)}/qemu/${vmid}/status/stop`, {}, 'stop', opts);
  }

  shutdownVm(node: string, vmid: number, opts?: ActionOptions & { forceStop?: boolean; timeoutS?: number }): Promise<ActionResult> {
    return this.action('POST', `/nodes/${seg(node)}/qemu/${vmid}/status/shutdown`, { forceStop: opts?.forceStop, timeout: opts?.timeoutS }, 'shutdown', opts);
  }

  resetVm(node: string, vmid: number, opts?: ActionOptions): Promise<ActionResult> {
    return this.action('POST', `/nodes/${seg(node)}/qemu/${vmid}/status/reset`, {}, 'reset', opts);
  }

  rebootVm(node: string, vmid: number, opts?: ActionOptions): Promise<ActionResult> {
    return this.action('POST', `/nodes/${seg(node)}/qemu/${vmid}/status/reboot`, {}, 'reboot', opts);
  }

  /** Deletes with purge and unreferenced disks; a VM already gone is `already_done`. A running VM is a `replan` failure: stop it first. */
  deleteVm(node: string, vmid: number, opts?: ActionOptions): Promise<ActionResult> {
    return this.action('DELETE', `/nodes/${seg(node)}/qemu/${vmid}`, { purge: true, 'destroy-unreferenced-disks': true }, 'delete', opts);
  }

  /** Migrates to `target`; the task runs (and is polled) on the source node. */
  migrateVm(node: string, vmid: number, target: string, opts?: ActionOptions & { online?: boolean; withLocalDisks?: boolean }): Promise<ActionResult> {
    return this.action('POST', `/nodes/${seg(node)}/qemu/${vmid}/migrate`, { target, online: opts?.online, 'with-local-disks': opts?.withLocalDisks }, 'migrate', opts);
  }

  private async action(method: string, path: string, params: Params, op: ProxmoxOp, opts: ActionOptions = {}): Promise<ActionResult> {
    const r = await this.call<string>(method, path, params, op, opts);
    if ('alreadyDone' in r) {
      this.logger.info(`Proxmox ${method} ${path}: already done (${r.alreadyDone})`);
      return { outcome: 'already_done' };
    }
    const upid = this.checkUpid(r.data, `${method} ${path}`);
    await opts.onTask?.(upid);
    if (opts.wait === false) return { outcome: 'started', upid };
    return this.waitTask(upid, { signal: opts.signal, deadlineMs: opts.deadlineMs });
  }

  private checkUpid(data: unknown, operation: string): string {
    try {
      return parseUpid(data as string).upid;
    } catch (err) {
      throw failure('permanent', `Proxmox ${operation} did not return a UPID: ${(err as Error).message}`, { system: 'proxmox', operation }, err);
    }
  }

  // ---- tasks ----

  async taskStatus(upid: string, opts?: CallOptions): Promise<TaskStatus> {
    const u = parseUpid(upid);
    return this.read(`/nodes/${seg(u.node)}/tasks/${seg(upid)}/status`, {}, opts);
  }

  async taskLog(upid: string, opts?: CallOptions & { start?: number; limit?: number }): Promise<Array<{ n: number; t: string }>> {
    const u = parseUpid(upid);
    return this.read(`/nodes/${seg(u.node)}/tasks/${seg(upid)}/log`, { start: opts?.start, limit: opts?.limit }, opts);
  }

  /**
   * Polls a task on the node that runs it until it stops. `OK` and
   * `WARNINGS: n` are success; an exit status the classifier calls
   * already_done (start of a running VM) is `already_done`; other exit
   * statuses throw their classified error. Transient failures while polling
   * (595/596, timeouts, refused connections) are logged and polling goes on
   * until the deadline, which is itself a transient failure: the job retries
   * and resumes polling the same UPID.
   */
  async waitTask(upid: string, opts: WaitOptions = {}): Promise<ActionResult> {
    const u = parseUpid(upid);
    const deadlineMs = opts.deadlineMs ?? this.deadlines[u.type] ?? this.deadlines.default ?? 600_000;
    const end = Date.now() + deadlineMs;
    const operation = `wait ${u.type} task on ${u.node}`;
    for (;;) {
      let st: TaskStatus | undefined;
      try {
        st = await this.taskStatus(upid, { signal: opts.signal });
      } catch (err) {
        if (!(err instanceof ExternalError) || err.failureClass !== 'transient') throw err;
        this.logger.warning(`Proxmox task ${upid}: polling failed, will poll again: ${err.message}`);
      }
      if (st?.status === 'stopped') {
        const exit = (st.exitstatus ?? 'unexpected status').trim();
        if (exit === 'OK' || exit.startsWith('WARNINGS')) return { outcome: 'done', upid, exitstatus: exit };
        const cls = classifyProxmoxFailure({ op: opOfTaskType(u.type), message: exit });
        if (cls === 'already_done') return { outcome: 'already_done', upid, exitstatus: exit };
        this.logger.warning(`Proxmox task ${upid} failed: ${this.redact(exit)}`);
        throw failure(cls, `Proxmox ${u.type} task failed: ${this.redact(exit)}`, { system: 'proxmox', operation, code: TASK_FAILED, body: clip(this.redact(exit)) });
      }
      if (Date.now() >= end) {
        throw failure('transient', `Proxmox ${u.type} task ${upid} still running after ${deadlineMs} ms`, { system: 'proxmox', operation });
      }
      const wait = this.poll.minMs + Math.random() * Math.max(0, this.poll.maxMs - this.poll.minMs);
      try {
        await sleep(Math.min(wait, Math.max(0, end - Date.now())), undefined, { signal: opts.signal });
      } catch (err) {
        throw opts.signal?.reason ?? err;
      }
    }
  }
}
