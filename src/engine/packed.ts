import { MalformedJobError } from './errors.js';

// The scripts that hand out jobs (dequeue, finish, fail, complete) return
// their whole reply as one string packed by Redis' cmsgpack, job hashes
// nested in it: the client's RESP decoder then cuts one Buffer per call
// where it cut a Buffer and a string per field, and the strings here come
// out of one latin1 copy of the reply by slicing, not one C++ call each.

/** Replies up to this size are copied to one string whose slices are the reply's strings. */
const TEXT_LIMIT = 64 * 1024;

/** Field names seen in packed job hashes, by a hash of their bytes: RQ's few dozen, made once, not per job. */
const NAME_SLOTS = 512;
const names: (string | undefined)[] = new Array(NAME_SLOTS);
const nameBytes: (Buffer | undefined)[] = new Array(NAME_SLOTS);

/**
 * Reads what cmsgpack.pack writes for tables of strings and small numbers:
 * arrays (fixarray, array16, array32), strings (fixstr, str8/16/32), nil
 * and integers. Anything else, or a length past the end, throws
 * MalformedJobError with the byte and offset.
 */
export class PackedReader {
  private pos = 0;
  /** The last string's byte range (range()). */
  start = 0;
  end = 0;
  private text: string | undefined = undefined;

  constructor(readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private fail(at: number): never {
    const b = this.buf;
    throw new MalformedJobError(
      at < b.length ? `unexpected msgpack byte 0x${b[at]!.toString(16)} at ${at} in a packed reply` : `packed reply truncated at ${at} of ${b.length} bytes`,
    );
  }

  private u16(): number {
    const b = this.buf;
    if (this.pos + 2 > b.length) this.fail(b.length);
    const n = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return n;
  }

  private u32(): number {
    if (this.pos + 4 > this.buf.length) this.fail(this.buf.length);
    const n = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return n;
  }

  /** An array header: its length. */
  array(): number {
    const b = this.buf;
    if (this.pos >= b.length) this.fail(this.pos);
    const h = b[this.pos++]!;
    if ((h & 0xf0) === 0x90) return h & 0x0f;
    if (h === 0xdc) return this.u16();
    if (h === 0xdd) return this.u32();
    return this.fail(this.pos - 1);
  }

  /** A string: sets start and end to its bytes, copies nothing. */
  range(): void {
    const b = this.buf;
    if (this.pos >= b.length) this.fail(this.pos);
    const t = b[this.pos++]!;
    let len: number;
    if ((t & 0xe0) === 0xa0) len = t & 0x1f;
    else if (t === 0xd9) {
      if (this.pos >= b.length) this.fail(b.length);
      len = b[this.pos++]!;
    } else if (t === 0xda) len = this.u16();
    else if (t === 0xdb) len = this.u32();
    else return this.fail(this.pos - 1);
    if (this.pos + len > b.length) this.fail(b.length);
    this.start = this.pos;
    this.pos += len;
    this.end = this.pos;
  }

  /** A string, decoded as UTF-8. */
  str(): string {
    this.range();
    return this.decode(this.start, this.end);
  }

  /** A string's bytes, as a view of the reply (binary job data). */
  bytes(): Buffer {
    this.range();
    return this.buf.subarray(this.start, this.end);
  }

  /** A field name: the same string object for the same bytes, made once (see names). */
  name(): string {
    this.range();
    const b = this.buf;
    const s = this.start;
    const n = this.end - s;
    let h = n;
    for (let i = s; i < s + n; i++) h = (h * 31 + b[i]!) | 0;
    h = (h ^ (h >>> 9)) & (NAME_SLOTS - 1);
    const known = nameBytes[h];
    if (known !== undefined && known.length === n) {
      let i = 0;
      while (i < n && known[i] === b[s + i]) i++;
      if (i === n) return names[h]!;
    }
    const str = this.decode(s, s + n);
    // a name from an odd producer takes the slot; RQ's own come back to it
    if (n <= 64) {
      nameBytes[h] = Buffer.from(b.subarray(s, s + n));
      names[h] = str;
    }
    return str;
  }

  /** An integer (positive or negative fixint, uint8-32, int8-32); nil reads as 0. */
  int(): number {
    const b = this.buf;
    if (this.pos >= b.length) this.fail(this.pos);
    const t = b[this.pos++]!;
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t === 0xc0) return 0;
    if (t === 0xcc) {
      if (this.pos >= b.length) this.fail(b.length);
      return b[this.pos++]!;
    }
    if (t === 0xcd) return this.u16();
    if (t === 0xce) return this.u32();
    if (t === 0xd0) {
      if (this.pos >= b.length) this.fail(b.length);
      return (b[this.pos++]! << 24) >> 24;
    }
    if (t === 0xd1) return (this.u16() << 16) >> 16;
    if (t === 0xd2) return this.u32() | 0;
    return this.fail(this.pos - 1);
  }

  /**
   * A job hash as HGETALL gives it (name, value, ...): its fields, `data`
   * apart as bytes.
   */
  hash(): { fields: Record<string, string>; data: Buffer | undefined } {
    const n = this.array();
    const fields: Record<string, string> = {};
    let data: Buffer | undefined;
    for (let i = 0; i + 1 < n; i += 2) {
      const k = this.name();
      if (k === 'data') data = this.bytes();
      else fields[k] = this.str();
    }
    if (n % 2 === 1) this.range();
    return { fields, data };
  }

  private decode(s: number, e: number): string {
    if (s === e) return '';
    const b = this.buf;
    for (let i = s; i < e; i++) if (b[i]! > 0x7f) return b.toString('utf8', s, e);
    // ASCII: a slice of one latin1 copy of the whole reply, made on first
    // use; not for a large reply, whose copy every slice would keep alive
    if (b.length > TEXT_LIMIT) return b.toString('latin1', s, e);
    const text = (this.text ??= b.toString('latin1'));
    return text.slice(s, e);
  }
}
