import { deflateSync, inflateSync } from 'node:zlib';
import { MalformedJobError } from './errors.js';
import { decodeLimits } from './limits.js';

/**
 * JSON text exactly as Python's json.dumps writes it (separators ', ' and
 * ': ', ensure_ascii), which RQ's JSONSerializer uses. Byte-identical output
 * keeps job hashes indistinguishable from ones Python wrote.
 */
export function pyJsonDumps(value: unknown): string {
  return dump(value, new Set());
}

function dumpString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function dump(value: unknown, seen: Set<object>): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (Number.isNaN(value)) return 'NaN';
      if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
      return pyNumber(value);
    case 'string':
      return dumpString(value);
    case 'object': {
      const obj = value as { toJSON?: () => unknown };
      if (typeof obj.toJSON === 'function') return dump(obj.toJSON(), seen);
      if (seen.has(value)) throw new TypeError('Circular reference detected');
      seen.add(value);
      try {
        if (Array.isArray(value)) return '[' + value.map((v) => dump(v, seen)).join(', ') + ']';
        if (value instanceof Map || value instanceof Set || ArrayBuffer.isView(value)) {
          throw new TypeError(`Object of type ${value.constructor.name} is not JSON serializable`);
        }
        const parts: string[] = [];
        for (const [k, v] of Object.entries(value)) {
          if (v === undefined || typeof v === 'function') continue;
          parts.push(`${dumpString(k)}: ${dump(v, seen)}`);
        }
        return '{' + parts.join(', ') + '}';
      } finally {
        seen.delete(value);
      }
    }
    default:
      throw new TypeError(`Object of type ${typeof value} is not JSON serializable`);
  }
}

/**
 * A number as Python's repr writes it: shortest digits, scientific notation
 * below 1e-4 and from 1e16 on, with a two-digit exponent (1e-05, 1.5e-07).
 * Integral values are written as ints: JSON cannot tell 1.0 from 1.
 */
function pyNumber(n: number): string {
  if (Object.is(n, -0)) return '-0.0';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n);
  const [mant, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

export interface CallPayload {
  func: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** The job's `data` field: zlib(dumps([func, null, args, kwargs])). */
export function encodeCall(func: string, args: unknown[], kwargs: Record<string, unknown>): Buffer {
  return zlibWrap(Buffer.from(pyJsonDumps([func, null, args, kwargs]), 'utf8'));
}

// Small payloads are wrapped in a zlib stream of stored (uncompressed)
// blocks: valid for every zlib reader (Python's included) and some 30 times
// cheaper than deflateSync, whose set-up dominates for a few dozen bytes.
// Larger ones are worth compressing.
const STORED_LIMIT = 2048;

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < buf.length; ) {
    const end = Math.min(i + 3800, buf.length);
    for (; i < end; i++) {
      a += buf[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function zlibWrap(raw: Buffer): Buffer {
  if (raw.length > STORED_LIMIT) return deflateSync(raw);
  const out = Buffer.allocUnsafe(2 + 5 + raw.length + 4);
  out[0] = 0x78; // CM 8, window 32K
  out[1] = 0x01; // no preset dictionary, fastest level; (0x7801 % 31 === 0)
  out[2] = 0x01; // final block, stored
  out.writeUInt16LE(raw.length, 3);
  out.writeUInt16LE(~raw.length & 0xffff, 5);
  raw.copy(out, 7);
  out.writeUInt32BE(adler32(raw), 7 + raw.length);
  return out;
}

/** The payload of a single-stored-block zlib stream (what zlibWrap writes), or null. */
function unwrapStored(data: Buffer): Buffer | null {
  if (data.length < 11 || data[0] !== 0x78 || data[1] !== 0x01 || data[2] !== 0x01) return null;
  const len = data.readUInt16LE(3);
  if (((len ^ data.readUInt16LE(5)) & 0xffff) !== 0xffff || data.length !== 11 + len) return null;
  const raw = data.subarray(7, 7 + len);
  return adler32(raw) === data.readUInt32BE(7 + len) ? raw : null;
}

/**
 * Reads a job's `data` field the way RQ does: zlib if it inflates, raw bytes
 * otherwise. Pickles (default Python RQ, `rq cron`) are refused by name.
 */
export function decodeCall(data: Buffer | undefined): CallPayload {
  if (!data || data.length === 0) throw new MalformedJobError('job has no data field');
  const limits = decodeLimits();
  if (data.length > limits.maxDataBytes) {
    throw new MalformedJobError(`job data is ${data.length} bytes, more than the ${limits.maxDataBytes} accepted`);
  }
  let raw = unwrapStored(data);
  if (!raw) {
    try {
      // A zlib bomb stops at the cap instead of allocating gigabytes.
      raw = inflateSync(data, { maxOutputLength: limits.maxDecodedBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new MalformedJobError(`job data inflates to more than ${limits.maxDecodedBytes} bytes`);
      }
      raw = data;
    }
  }
  // JSON.parse's cost is in the arrays and objects it builds ('[[],[],...]'
  // in a few MiB costs seconds and gigabytes), and it cannot be interrupted:
  // count them first. Brackets inside strings count too, which only errs
  // on the safe side.
  const containers = countContainers(raw, limits.maxContainers);
  if (containers > limits.maxContainers) {
    throw new MalformedJobError(`job data holds more than ${limits.maxContainers} arrays and objects (containers)`);
  }
  if (raw[0] === 0x80) {
    throw new MalformedJobError(
      'job data is a Python pickle (default RQ serializer or rq cron); enqueue it with the JSON serializer',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new MalformedJobError(`job data is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || typeof parsed[0] !== 'string') {
    throw new MalformedJobError('job data is not a [func, instance, args, kwargs] array');
  }
  if (raw.includes(PROTO_KEY)) stripProto(parsed);
  const [func, instance, args, kwargs] = parsed as [string, unknown, unknown, unknown];
  if (instance !== null) throw new MalformedJobError(`job ${func} is a bound method; only plain functions can run here`);
  if (!Array.isArray(args)) throw new MalformedJobError('job args is not a list');
  if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
    throw new MalformedJobError('job kwargs is not an object');
  }
  return { func, args, kwargs: kwargs as Record<string, unknown> };
}

/** Counts '[' and '{' bytes, stopping once past `stop`. */
function countContainers(raw: Buffer, stop: number): number {
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x5b || c === 0x7b) {
      if (++n > stop) return n;
    }
  }
  return n;
}

const PROTO_KEY = Buffer.from('"__proto__"');

/**
 * Deletes own '__proto__' keys that JSON.parse created, at any depth: a task
 * doing Object.assign(defaults, kwargs) would otherwise have its prototype
 * replaced by job data. Used for job data and meta.
 */
export function stripProto(value: unknown): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (!Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, '__proto__')) delete (v as Record<string, unknown>)['__proto__'];
    for (const child of Object.values(v as object)) if (child !== null && typeof child === 'object') stack.push(child);
  }
}

/** A result's return_value: base64 of the JSON text; undefined for None. */
export function encodeReturnValue(value: unknown): string {
  if (value === undefined) return '';
  try {
    return Buffer.from(pyJsonDumps(value), 'utf8').toString('base64');
  } catch {
    return Buffer.from(pyJsonDumps('Unserializable return value'), 'utf8').toString('base64');
  }
}

export function decodeReturnValue(b64: string | undefined): unknown {
  if (b64 === undefined || b64 === '') return null;
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
}

/** A result's exc_string: base64(zlib(utf8 text)). */
export function encodeExcString(text: string): string {
  return deflateSync(Buffer.from(text, 'utf8')).toString('base64');
}

export function decodeExcString(b64: string | undefined): string | null {
  if (!b64) return null;
  const buf = Buffer.from(b64, 'base64');
  try {
    // results are written by any program too: no unbounded inflate
    return inflateSync(buf, { maxOutputLength: decodeLimits().maxDecodedBytes }).toString('utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return `(traceback inflates to more than ${decodeLimits().maxDecodedBytes} bytes; not shown)`;
    return buf.toString('utf8');
  }
}

/** Python's repr(), for RQ's default job description `func(arg, k=v)`. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? pyNumber(value) : Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const body = value
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
    return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
  }
  if (Array.isArray(value)) return '[' + value.map(pyRepr).join(', ') + ']';
  if (typeof value === 'object') {
    return '{' + Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ') + '}';
  }
  return String(value);
}

function cut(s: string): string {
  return s.length > 75 ? s.slice(0, 75) + '...' : s;
}

export function callString(func: string, args: unknown[], kwargs: Record<string, unknown>): string {
  const parts = args.map((a) => cut(pyRepr(a)));
  for (const k of Object.keys(kwargs).sort()) parts.push(`${k}=${cut(pyRepr(kwargs[k]))}`);
  return `${func}(${parts.join(', ')})`;
}
