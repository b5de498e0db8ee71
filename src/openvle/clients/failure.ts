import { UnrecoverableError } from '../../index.js';

/**
 * How a failed call to an outside system is handled (external-apis.md §5).
 * Every client has one classifier that maps what the server said onto
 * these classes; handlers never look at status codes themselves.
 *
 * - transient: the same call may succeed later; thrown as a plain
 *   `ExternalError`, so the engine retries the job on its queue's policy.
 * - replan: the call must be repeated with changed input (another VMID
 *   after a nextid race); the client does that itself, a bounded number of
 *   times, and only then reports transient.
 * - permanent / permanent_config: retrying cannot help (SMTP 550, a
 *   missing template, a 403 on a path, a bad token); thrown as
 *   `PermanentExternalError`, which the engine fails at once.
 * - already_done: the outside system is already in the wanted state
 *   (stopping a stopped VM, deleting a deleted one); the caller succeeds.
 */
export type FailureClass = 'transient' | 'replan' | 'permanent' | 'permanent_config' | 'already_done';

export interface FailureDetails {
  system: 'proxmox' | 'guacamole' | 'moodle' | 'smtp';
  /** HTTP status or SMTP reply code, when there was one. */
  status?: number;
  /** Machine-readable code of the outside system (Moodle errorcode, Guacamole type, SMTP enhanced code). */
  code?: string;
  /** The operation, for logs: 'POST /nodes/pve1/qemu/100/clone'. */
  operation?: string;
  /** The raw body or reply, secrets redacted, cut to a few KiB. */
  body?: string;
}

/** A transient failure of an outside system: the job's retry policy applies. */
export class ExternalError extends Error {
  readonly failureClass: FailureClass;
  readonly details: FailureDetails;
  constructor(message: string, failureClass: FailureClass, details: FailureDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExternalError';
    this.failureClass = failureClass;
    this.details = details;
  }
}

/**
 * A permanent failure of an outside system. It extends the engine's
 * `UnrecoverableError`, so the job fails at once whatever retries it has.
 */
export class PermanentExternalError extends UnrecoverableError {
  readonly failureClass: FailureClass;
  readonly details: FailureDetails;
  constructor(message: string, failureClass: 'permanent' | 'permanent_config', details: FailureDetails, options?: { cause?: unknown }) {
    super(message);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
    this.name = 'PermanentExternalError';
    this.failureClass = failureClass;
    this.details = details;
  }
}

/** Builds the error to throw for a classified failure (never for already_done). */
export function failure(
  failureClass: Exclude<FailureClass, 'already_done'>,
  message: string,
  details: FailureDetails,
  cause?: unknown,
): ExternalError | PermanentExternalError {
  return failureClass === 'permanent' || failureClass === 'permanent_config'
    ? new PermanentExternalError(message, failureClass, details, { cause })
    : new ExternalError(message, failureClass, details, { cause });
}

/** The class of an error thrown by a client, or undefined for any other error. */
export function failureClassOf(err: unknown): FailureClass | undefined {
  if (err instanceof ExternalError || err instanceof PermanentExternalError) return err.failureClass;
  return undefined;
}

const SECRET_PATTERNS: RegExp[] = [
  /(PVEAPIToken=[^=\s]+=)[^\s"',]+/gi,
  /((?:wstoken|token|password|passwd|secret|authToken)["']?\s*[:=]\s*["']?)[^\s"'&,}]+/gi,
  /(Guacamole-Token["']?\s*[:=]\s*["']?)[^\s"',}]+/gi,
  /(Authorization["']?\s*[:=]\s*["']?)[^"'\n,}]+/gi,
];

/**
 * Removes secrets from a text about to be logged or stored: token values,
 * passwords, Authorization headers. `extra` lists known secret values
 * (the configured token), which are replaced wherever they appear.
 */
export function redactSecrets(text: string, extra: Array<string | undefined> = []): string {
  let out = text;
  for (const secret of extra) {
    if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  for (const re of SECRET_PATTERNS) out = out.replace(re, '$1***');
  return out;
}

/** Cuts a body for a log line or an error message. */
export function clip(text: string, max = 2048): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length - max} more characters)` : text;
}
