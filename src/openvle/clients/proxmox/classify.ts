import type { FailureClass } from '../failure.js';

/**
 * What the caller was doing: the same text means different things per
 * operation ("does not exist" is success for a delete, a failure for a clone).
 */
export type ProxmoxOp =
  | 'read'
  | 'nextid'
  | 'clone'
  | 'start'
  | 'stop'
  | 'shutdown'
  | 'reset'
  | 'reboot'
  | 'delete'
  | 'migrate'
  | 'config'
  | 'task';

export interface ProxmoxFailure {
  op: ProxmoxOp;
  /** HTTP status of a synchronous answer; undefined for a task's exit status. */
  status?: number;
  /** `body.message ?? statusText`, or the task's exit status; trimmed. */
  message: string;
  /** The 400 answer's per-parameter errors. */
  errors?: Record<string, string>;
}

/** The task types of §1.5 mapped to the operation that started them. */
export function opOfTaskType(type: string): ProxmoxOp {
  switch (type) {
    case 'qmclone':
      return 'clone';
    case 'qmstart':
    case 'hastart':
      return 'start';
    case 'qmstop':
    case 'hastop':
      return 'stop';
    case 'qmshutdown':
      return 'shutdown';
    case 'qmreset':
      return 'reset';
    case 'qmreboot':
      return 'reboot';
    case 'qmdestroy':
      return 'delete';
    case 'qmigrate':
    case 'hamigrate':
      return 'migrate';
    case 'qmconfig':
      return 'config';
    default:
      return 'task';
  }
}

/**
 * The one classifier for Proxmox failures (external-apis.md §1.3 and §1.6):
 * a synchronous HTTP error or a task's failed exit status → failure class.
 * Texts no row of §1.6 covers are permanent: retrying an unknown failure of
 * a non-idempotent call (a clone) risks a second VM.
 */
export function classifyProxmoxFailure(f: ProxmoxFailure): FailureClass {
  const msg = f.message;
  const errorTexts = Object.values(f.errors ?? {}).join('\n');
  const status = f.status;

  // Proxy pseudo-statuses: the node is unreachable or pveproxy timed out.
  if (status !== undefined && status >= 590 && status <= 599) return 'transient';
  // A token is never renewed: a 401 means the configured token is wrong or revoked.
  if (status === 401) return 'permanent_config';
  if (status === 403 || /Permission check failed/i.test(msg)) return 'permanent_config';
  // Unknown path or a body on GET/DELETE: a client bug.
  if (status === 501) return 'permanent';
  if (status === 400) {
    if (/VM \d+ already exists/.test(errorTexts)) return 'replan';
    return 'permanent';
  }

  // 500 texts and task exit statuses.
  if (/VM \d+ is locked \((?!suspended)[\w-]+\)/.test(msg)) return 'transient';
  if (/can't lock file '.*' - got timeout/.test(msg)) return 'transient';
  if (/cfs-lock '.*' error: got lock request timeout/.test(msg)) return 'transient';
  if (/cluster not ready - no quorum\?/.test(msg)) return 'transient';
  if (/VM quit\/powerdown failed - got timeout/.test(msg)) return 'replan';
  if (/(^|: )got timeout$/.test(msg) || /interrupted by signal/.test(msg)) return 'transient';
  if (/config file already exists|File exists|VM \d+ already exists/.test(msg)) return 'replan';
  if (/Configuration file '.*' does not exist/.test(msg)) return f.op === 'delete' ? 'already_done' : 'permanent';
  if (/VM \d+ already running/.test(msg)) return f.op === 'start' ? 'already_done' : 'permanent';
  // Reset/reboot exist to act on a running guest: not running means the caller's picture is wrong.
  if (/VM \d+ not running/.test(msg)) return f.op === 'stop' || f.op === 'shutdown' ? 'already_done' : 'permanent';
  if (/VM \d+ is running - destroy failed/.test(msg)) return 'replan';
  if (/VM is paused - cannot shutdown/.test(msg)) return 'replan';
  if (/checksum mismatch \(file change by other user\?\)/.test(msg)) return 'replan';
  if (/no such cluster node|hostname lookup '.*' failed|pool '.*' does not exist/.test(msg)) return 'permanent_config';
  return 'permanent';
}

/** Failures without an HTTP answer: refused, reset, timed out are transient; certificate problems are configuration; a request undici will not send is permanent. */
export function classifyNetworkError(err: unknown): 'transient' | 'permanent' | 'permanent_config' {
  const code = String((err as { code?: unknown })?.code ?? '');
  const message = String((err as Error)?.message ?? err);
  // undici refused to send the request at all (a bad header or URL): sending it again cannot help.
  if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_URL') return 'permanent';
  if (
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME|DEPTH_ZERO|UNABLE_TO_GET_ISSUER/.test(code) ||
    /certificate|fingerprint/i.test(message)
  ) {
    return 'permanent_config';
  }
  return 'transient';
}
