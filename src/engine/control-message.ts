/**
 * Bounded parsing of the commands RQ sends on rq:pubsub:<worker>
 * (`{"command": "shutdown" | "kill-horse" | "stop-job", "job_id": ...}`).
 * Anyone who can publish on Redis can send one: nothing here may throw,
 * and nothing a message holds is printed beyond a short escaped prefix.
 */

/** Real commands are under 200 bytes; anything much longer is not one of them. */
export const MAX_CONTROL_MESSAGE = 4096;

/** Longest piece of a message (or of an unknown command) that is logged. */
const SHOWN = 80;

export type ControlMessage = { command: unknown; job_id: unknown } | { malformed: string };

function escape(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** A short, escaped prefix of untrusted text, for a log line. */
export function prefix(text: string): string {
  return escape(text.length > SHOWN ? text.slice(0, SHOWN) + '...' : text);
}

/** The command, or why the message is not one (for the log line). Never throws. */
export function parseControlMessage(message: string): ControlMessage {
  if (typeof message !== 'string') return { malformed: 'not text' };
  if (message.length > MAX_CONTROL_MESSAGE) return { malformed: `${message.length} bytes, longer than ${MAX_CONTROL_MESSAGE}: ${prefix(message)}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return { malformed: prefix(message) };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { malformed: prefix(message) };
  const o = parsed as Record<string, unknown>;
  // Only strings are meaningful; anything else is kept as a marker that matches no command or job.
  return { command: typeof o.command === 'string' ? o.command : { kind: typeof o.command }, job_id: typeof o.job_id === 'string' ? o.job_id : undefined };
}

/** An unknown command as logged: a short escaped prefix, never the whole value. */
export function showCommand(command: unknown): string {
  return typeof command === 'string' ? `'${prefix(command)}'` : `of type ${typeof command === 'object' && command !== null ? String((command as { kind?: unknown }).kind) : typeof command}`;
}
