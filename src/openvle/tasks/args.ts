import { UnrecoverableError } from '../../index.js';

/**
 * A malformed argument is permanent: the same job would fail the same way
 * on every retry. The message names the task and the argument, never its
 * value (it may be long or hostile).
 */
export class BadArgumentError extends UnrecoverableError {
  constructor(task: string, message: string) {
    super(`${task}: ${message}`);
    this.name = 'BadArgumentError';
  }
}

/** The engine calls a task with its args, then its kwargs as one trailing object; OpenVLE tasks take kwargs only. */
export function kwargsOf(task: string, args: unknown[]): Record<string, unknown> {
  if (args.length === 0) return {};
  const last = args[args.length - 1];
  if (args.length === 1 && last !== null && typeof last === 'object' && !Array.isArray(last)) return last as Record<string, unknown>;
  throw new BadArgumentError(task, 'takes keyword arguments only');
}

/** Reads and checks keyword arguments; unknown names are refused so a typo never passes silently. */
export class Args {
  private readonly seen = new Set<string>();
  constructor(
    private readonly task: string,
    private readonly kwargs: Record<string, unknown>,
  ) {}

  private get(name: string): unknown {
    this.seen.add(name);
    return Object.prototype.hasOwnProperty.call(this.kwargs, name) ? this.kwargs[name] : undefined;
  }

  private bad(name: string, what: string): never {
    throw new BadArgumentError(this.task, `argument '${name}' ${what}`);
  }

  int(name: string, opts: { min?: number } = {}): number {
    const v = this.optionalInt(name, opts);
    if (v === undefined) this.bad(name, 'is required');
    return v;
  }

  optionalInt(name: string, opts: { min?: number } = {}): number | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) this.bad(name, 'must be an integer');
    if (n < (opts.min ?? 0)) this.bad(name, `must be at least ${opts.min ?? 0}`);
    return n;
  }

  string(name: string, opts: { max?: number } = {}): string {
    const v = this.optionalString(name, opts);
    if (v === undefined) this.bad(name, 'is required');
    return v;
  }

  optionalString(name: string, opts: { max?: number } = {}): string | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') this.bad(name, 'must be a non-empty string');
    if (v.length > (opts.max ?? 255)) this.bad(name, `must be at most ${opts.max ?? 255} characters`);
    return v;
  }

  optionalBool(name: string): boolean | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.bad(name, 'must be true or false');
    return v;
  }

  optionalObject(name: string): Record<string, unknown> | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.bad(name, 'must be an object');
    return v as Record<string, unknown>;
  }

  /** Call after reading every argument: refuses names the task does not know. */
  done(): void {
    const unknown = Object.keys(this.kwargs).filter((k) => !this.seen.has(k));
    if (unknown.length) throw new BadArgumentError(this.task, `unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k.slice(0, 40)}'`).join(', ')}`);
  }
}
