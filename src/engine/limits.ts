/**
 * Bounds on numbers and sizes that come from job data, producers or the
 * command line. Redis refuses an EXPIRE past its own range (and a
 * non-integer), and a script that errors after writing is not rolled back,
 * so TTLs and timeouts are checked here before they reach a script; the Lua
 * side cleans what other programs write (clean_ttl in lua/include/ttl.lua,
 * with the same ceiling).
 */

/** Ten years, in seconds: the longest TTL or timeout accepted (MAX_TTL in lua/include/ttl.lua). */
export const MAX_SECONDS = 10 * 365 * 86400;

/**
 * A TTL or timeout in seconds: a safe integer from `min` to MAX_SECONDS;
 * -1 (no limit / keep forever) when `min` allows it.
 */
export function checkSeconds(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > MAX_SECONDS) {
    const shown = typeof value === 'number' || typeof value === 'string' ? String(value).slice(0, 40) : typeof value;
    throw new TypeError(`${name} must be an integer from ${min} to ${MAX_SECONDS} seconds, not ${shown}`);
  }
  return value;
}

export interface DecodeLimits {
  /** Largest `data` field accepted, in bytes, before it is inflated. */
  maxDataBytes: number;
  /** Largest inflated (JSON) payload, in bytes. */
  maxDecodedBytes: number;
  /**
   * Most arrays and objects one payload may hold. JSON.parse's time and
   * memory grow with their number far more than with the text's length
   * (`[[],[],...]`): this bounds the work before parsing starts.
   */
  maxContainers: number;
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

// 16 MiB each by default: large enough for the biggest payloads OpenVLE's
// producers write (a few MiB), small enough that decoding one costs well
// under a heartbeat. A million containers parse in a fraction of a second.
const limits: DecodeLimits = {
  maxDataBytes: envInt('OPENVLE_RQ_MAX_DATA_BYTES', 16 << 20),
  maxDecodedBytes: envInt('OPENVLE_RQ_MAX_DECODED_BYTES', 16 << 20),
  maxContainers: envInt('OPENVLE_RQ_MAX_CONTAINERS', 1_000_000),
};

/** The limits decodeCall applies (defaults, or the OPENVLE_RQ_MAX_* environment variables). */
export function decodeLimits(): Readonly<DecodeLimits> {
  return limits;
}

/** Changes the decoding limits for this process; returns the previous ones. */
export function setDecodeLimits(next: Partial<DecodeLimits>): DecodeLimits {
  const before = { ...limits };
  for (const [k, v] of Object.entries(next) as [keyof DecodeLimits, number | undefined][]) {
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`${k} must be a positive integer`);
    limits[k] = v;
  }
  return before;
}
