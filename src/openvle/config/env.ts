/**
 * Reading OpenVLE's configuration from environment variables. Every reader
 * records a problem instead of throwing, so start-up reports every bad
 * value at once, one line each, and exits 1.
 */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Collects problems while a configuration is read. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(readonly env: Env) {}

  /** The value, trimmed, with one pair of surrounding double quotes removed (OpenVLE's .env files quote every value). */
  raw(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    let s = v.trim();
    if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
    return s === '' ? undefined : s;
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  required(name: string, why = 'is required'): string {
    const v = this.raw(name);
    if (v === undefined) this.problems.push(`${name} ${why}`);
    return v ?? '';
  }

  /** Booleans as OpenVLE's .env files write them: True/False in any case, 1/0, yes/no. */
  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const s = v.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
    this.problems.push(`${name} must be True or False (got '${v}')`);
    return fallback;
  }

  int(name: string, fallback: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min || Number(v) > max) {
      const range = opts.min !== undefined || opts.max !== undefined ? ` between ${min} and ${max}` : '';
      this.problems.push(`${name} must be an integer${range} (got '${v}')`);
      return fallback;
    }
    return Number(v);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const found = allowed.find((a) => a === v.toLowerCase());
    if (!found) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got '${v}')`);
      return fallback;
    }
    return found;
  }

  /** An absolute http(s) URL, without a trailing slash. */
  url(name: string, opts: { required?: boolean; protocols?: string[] } = {}): string | undefined {
    const v = this.raw(name);
    if (v === undefined) {
      if (opts.required) this.problems.push(`${name} is required`);
      return undefined;
    }
    const protocols = opts.protocols ?? ['http:', 'https:'];
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) throw new Error('protocol');
      return v.replace(/\/+$/, '');
    } catch {
      // Never echo the value: a URL may hold a password.
      this.problems.push(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      return undefined;
    }
  }

  /** Throws a ConfigError listing every problem found so far. */
  check(): void {
    if (this.problems.length) throw new ConfigError([...this.problems]);
  }
}

/** Masks a secret for `openvle-rq config`: set or not, never its value. */
export function mask(value: string | undefined): string {
  return value === undefined || value === '' ? '(unset)' : '***';
}
