/**
 * Job descriptions as they are stored in Redis and printed: RQ's
 * `func(args, k=v)`, but without secrets, without control characters (a
 * newline in a description would forge log lines) and of bounded length.
 * Descriptions are for people; the job's data keeps the real values.
 */
import { pyRepr } from './serializer.js';

/** Longest description stored or printed, in characters. */
export const MAX_DESCRIPTION = 512;

/** The per-value cut of RQ's description, so one huge argument does not crowd out the rest. */
const MAX_PART = 75;

/** Keyword names whose values are never shown: password, passwd, token, secret, api_key, credentials... */
const SECRET_NAME = /pass|token|secret|key|credential/i;

/**
 * A `name=value` or `name: value` inside free text whose name looks like a
 * secret's. It starts at the secret word, not at the name's start: a leading
 * `[\w]*` would make the search quadratic in a long run of letters.
 */
const SECRET_PAIR = /((?:pass|token|secret|key|credential)[A-Za-z0-9_.-]*['"]?\s*[=:]\s*)('[^']*'?|"[^"]*"?|[^\s,;)}\]]*)/gi;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A value shown as the given text instead of its repr (the CLI's `@file` arguments). */
export class Shown {
  constructor(readonly text: string) {}
}

/** Escapes control characters (C0, DEL, C1, line and paragraph separators) as Python's repr would. */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code > 0xff ? '\\u' + code.toString(16).padStart(4, '0') : '\\x' + code.toString(16).padStart(2, '0');
  });
}

function cut(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) + '...' : s;
}

/** Free text made safe to store and print: secret-looking pairs redacted, control characters escaped, length bounded. */
export function safeDescription(text: string, max = MAX_DESCRIPTION): string {
  // Cut first (with room for what escaping adds) so that the work is bounded
  // whatever the length of the text; a secret cut in two is still redacted.
  const head = text.length > 2 * max ? text.slice(0, 2 * max) : text;
  return cut(escapeControl(head.replace(SECRET_PAIR, '$1***')), max);
}

function show(v: unknown): string {
  return v instanceof Shown ? v.text : cut(pyRepr(v), MAX_PART);
}

/** RQ's default description `func(arg, k=v)`, with the values of secret-named keywords replaced by '***'. */
export function describeCall(func: string, args: unknown[], kwargs: Record<string, unknown>): string {
  const parts = args.map(show);
  for (const k of Object.keys(kwargs).sort()) parts.push(`${k}=${isSecretName(k) ? "'***'" : show(kwargs[k])}`);
  return safeDescription(`${func}(${parts.join(', ')})`);
}

/**
 * What the worker logs when a job starts: its task name and id, or its
 * (made safe) description when asked for.
 */
export function jobLogName(job: { id: string; description: string | null; call(): { func: string } }, withDescription: boolean): string {
  if (withDescription) return `${safeDescription(job.description ?? '?')} (${job.id})`;
  let func = '?';
  try {
    func = job.call().func;
  } catch {
    // malformed data: the job fails with the reason when it is invoked
  }
  return `${safeDescription(func, 200)} (${escapeControl(job.id)})`;
}
