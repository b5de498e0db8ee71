/** Base class of the engine's own errors. */
export class RQError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class NoSuchJobError extends RQError {}
export class InvalidJobOperation extends RQError {}
export class DuplicateJobError extends RQError {}
export class MalformedJobError extends RQError {}

// A process-wide symbol, not a class identity: two copies of this module
// (the sources under tsx and dist/, or two installs) must agree on it.
const UNRECOVERABLE = Symbol.for('openvle-rq.UnrecoverableError');

/**
 * Thrown by a task to fail its job at once, whatever retries it has left
 * (an SMTP 550, a missing template): retrying cannot help. The worker
 * recognises it by a brand (isUnrecoverable), so subclasses and errors from
 * another copy of this package count too.
 */
export class UnrecoverableError extends RQError {
  readonly [UNRECOVERABLE] = true;
}

/** Whether `err` is an UnrecoverableError of any copy of openvle-rq (or a subclass). */
export function isUnrecoverable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[UNRECOVERABLE] === true;
}

export class JobTimeoutError extends RQError {
  constructor(seconds: number) {
    // RQ's JobTimeoutException text, so logs read the same in both worlds.
    super(`Task exceeded maximum timeout value (${seconds} seconds)`);
  }
}

/**
 * Text stored for a failure: the stack when there is one, as RQ stores a
 * traceback. Never throws, whatever a task threw: the worker records the
 * failure with it, and a throw here would leave the job unrecorded.
 */
export function describeError(err: unknown): string {
  try {
    if (err instanceof Error) {
      const head = `${String(err.name)}: ${String(err.message)}`;
      const stack = typeof err.stack === 'string' ? err.stack : '';
      return stack.startsWith(head) || (stack !== '' && stack.includes(String(err.message))) ? stack : `${head}\n${stack}`.trimEnd();
    }
  } catch {
    /* a getter that throws: describe it as a plain value below */
  }
  let text: string;
  try {
    text = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    try {
      text = String(err);
    } catch {
      text = `a value of type ${typeof err} that cannot be printed`;
    }
  }
  return `Non-Error thrown: ${text}`;
}

/**
 * A failure in Python's traceback order, as RQ stores exc_string: the
 * header, the frames oldest first, and `<ErrorName>: <message>` last, the
 * line rq-dashboard, `rq info` and log scrapers show. A V8 stack lists the
 * newest frame first, so its frames are reversed. Never throws.
 */
export function formatTraceback(err: unknown): string {
  let head: string;
  let frames: string[] = [];
  try {
    if (err instanceof Error) {
      head = `${String(err.name)}: ${String(err.message)}`;
      const stack = typeof err.stack === 'string' ? err.stack : '';
      frames = stack
        .split('\n')
        .filter((l) => /^\s+at /.test(l))
        .map(pyFrame)
        .reverse();
    } else {
      head = describeError(err);
    }
  } catch {
    head = describeError(err);
  }
  return ['Traceback (most recent call last):', ...frames, head].join('\n');
}

/** `    at fn (file:line:col)` as Python's `  File "file", line N, in fn`. */
function pyFrame(line: string): string {
  const m = /^\s+at (?:(.*?) \()?(.*?):(\d+):\d+\)?$/.exec(line);
  if (!m) return `  File "<unknown>", line 0, in ${line.trim().replace(/^at /, '')}`;
  return `  File "${m[2]}", line ${m[3]}, in ${m[1] ?? '<module>'}`;
}

/**
 * A stored failure text with its exception line(s) first, for readers that
 * show the first line (a Task's last error): Python-order tracebacks (RQ's,
 * ours) are turned round; any other text is returned as it is.
 */
export function errorFirst(text: string): string {
  if (!text.startsWith('Traceback (most recent call last):')) return text;
  const lines = text.trimEnd().split('\n');
  // After the header come frame lines ('  File ...' and their indented
  // source lines); the first unindented line starts the exception.
  let i = 1;
  while (i < lines.length && lines[i]!.startsWith(' ')) i++;
  if (i >= lines.length) return text;
  return [...lines.slice(i), ...lines.slice(0, i)].join('\n');
}
