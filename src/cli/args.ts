/**
 * rq enqueue's argument syntax (rq/cli/helpers.py parse_function_arg):
 *   value        a string argument         key=value    a string keyword argument
 *   :json        a JSON argument           key:=json    a JSON keyword argument
 *   %literal     a Python literal          key%=literal a Python literal keyword argument
 * and a value starting with '@' is read from that file.
 */
import { readFileSync } from 'node:fs';
import { Shown } from '../index.js';

export class ArgumentSyntaxError extends Error {}

type Mode = 'text' | 'json' | 'literal';

/** `file`: the value was read from this file (@file); descriptions show the name, never the contents. */
export function parseFunctionArg(argument: string, pos: number): { keyword: string | null; value: unknown; file?: string } {
  let mode: Mode;
  let keyword: string | null = null;
  let value: string;
  if (argument.startsWith(':')) {
    mode = 'json';
    value = argument.slice(1);
  } else if (argument.startsWith('%')) {
    mode = 'literal';
    value = argument.slice(1);
  } else {
    const index = argument.indexOf('=');
    if (index > 0) {
      if (argument.includes(':') && argument.indexOf(':') + 1 === index) {
        mode = 'json';
        keyword = argument.slice(0, index - 1);
      } else if (argument.includes('%') && argument.indexOf('%') + 1 === index) {
        mode = 'literal';
        keyword = argument.slice(0, index - 1);
      } else {
        mode = 'text';
        keyword = argument.slice(0, index);
      }
      value = argument.slice(index + 1);
    } else {
      mode = 'text';
      value = argument;
    }
  }
  let file: string | undefined;
  if (value.startsWith('@')) {
    file = value.slice(1);
    try {
      value = readFileSync(file, 'utf8');
    } catch {
      throw new ArgumentSyntaxError(`Could not open file '${file}': Not found`);
    }
  }
  const parsed = parseValue(mode, keyword, value, pos);
  return file === undefined ? parsed : { ...parsed, file };
}

function parseValue(mode: Mode, keyword: string | null, value: string, pos: number): { keyword: string | null; value: unknown } {
  const what = keyword ?? `${pos}. non keyword argument`;
  if (mode === 'json') {
    try {
      return { keyword, value: JSON.parse(value) as unknown };
    } catch {
      throw new ArgumentSyntaxError(`Unable to parse ${what} as JSON.`);
    }
  }
  if (mode === 'literal') {
    try {
      return { keyword, value: pyLiteral(value) };
    } catch (err) {
      throw new ArgumentSyntaxError(`Unable to eval ${what} as Python object (${(err as Error).message}).`);
    }
  }
  return { keyword, value };
}

/**
 * The call's arguments, and the same with every value read from a file
 * replaced by `@file` (`shown`), for its description.
 */
export function parseFunctionArgs(argv: string[]): {
  args: unknown[];
  kwargs: Record<string, unknown>;
  shown: { args: unknown[]; kwargs: Record<string, unknown> };
} {
  const args: unknown[] = [];
  const kwargs: Record<string, unknown> = {};
  const shown = { args: [] as unknown[], kwargs: {} as Record<string, unknown> };
  for (const a of argv) {
    const { keyword, value, file } = parseFunctionArg(a, args.length + 1);
    const display = file === undefined ? value : new Shown(`@${file}`);
    if (keyword !== null) {
      if (Object.prototype.hasOwnProperty.call(kwargs, keyword)) {
        throw new ArgumentSyntaxError("You can't specify multiple values for the same keyword.");
      }
      kwargs[keyword] = value;
      shown.kwargs[keyword] = display;
    } else {
      args.push(value);
      shown.args.push(display);
    }
  }
  return { args, kwargs, shown };
}

/**
 * A JSON-representable subset of Python's ast.literal_eval: numbers,
 * strings, True/False/None, lists, tuples (as lists) and dicts.
 */
export function pyLiteral(text: string): unknown {
  let i = 0;
  const s = text;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const err = (msg: string): never => {
    throw new Error(`${msg} at position ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === undefined) return err('unexpected end');
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: unknown[] = [];
      let sawComma = false;
      for (;;) {
        ws();
        if (s[i] === close) {
          i++;
          break;
        }
        out.push(value());
        ws();
        if (s[i] === ',') {
          i++;
          sawComma = true;
        } else if (s[i] !== close) err(`expected ',' or '${close}'`);
      }
      // (x) is x, not a tuple
      if (close === ')' && out.length === 1 && !sawComma) return out[0];
      return out;
    }
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      for (;;) {
        ws();
        if (s[i] === '}') {
          i++;
          break;
        }
        const k = value();
        ws();
        if (s[i] !== ':') err("expected ':' (sets are not supported)");
        i++;
        if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean' && k !== null) err('unsupported dict key');
        out[k === null ? 'null' : String(k)] = value();
        ws();
        if (s[i] === ',') i++;
        else if (s[i] !== '}') err("expected ',' or '}'");
      }
      return out;
    }
    const str = /^([rRuU]?)('''|"""|'|")/.exec(s.slice(i));
    if (str) {
      const rawStr = str[1]!.toLowerCase() === 'r';
      const q = str[2]!;
      i += str[0].length;
      let out = '';
      for (;;) {
        if (i >= s.length) err('unterminated string');
        if (s.startsWith(q, i)) {
          i += q.length;
          break;
        }
        const ch = s[i]!;
        if (ch === '\n' && q.length === 1) err('newline in string');
        if (ch === '\\' && !rawStr) {
          const e = s[i + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
          if (e !== undefined && e in simple) {
            out += simple[e];
            i += 2;
          } else if (e === 'x' || e === 'u' || e === 'U') {
            const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
            const hex = s.slice(i + 2, i + 2 + n);
            if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) err('bad escape');
            out += String.fromCodePoint(parseInt(hex, 16));
            i += 2 + n;
          } else {
            out += ch;
            i++;
          }
        } else {
          out += ch;
          i++;
        }
      }
      // adjacent literals concatenate
      ws();
      if (/^[rRuU]?['"]/.test(s.slice(i))) {
        const more = value();
        if (typeof more === 'string') return out + more;
        err('cannot concatenate');
      }
      return out;
    }
    const word = /^(True|False|None)\b/.exec(s.slice(i));
    if (word) {
      i += word[0].length;
      return word[1] === 'True' ? true : word[1] === 'False' ? false : null;
    }
    const num = /^[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?)/.exec(s.slice(i));
    if (num && num[0] !== '-' && num[0] !== '+') {
      i += num[0].length;
      const t = num[0].replace(/_/g, '');
      const sign = t.startsWith('-') ? -1 : 1;
      const body = t.replace(/^[-+]/, '');
      if (/^0[xX]/.test(body)) return sign * parseInt(body.slice(2), 16);
      if (/^0[oO]/.test(body)) return sign * parseInt(body.slice(2), 8);
      if (/^0[bB]/.test(body)) return sign * parseInt(body.slice(2), 2);
      return sign * Number(body);
    }
    return err(`unexpected '${c}'`);
  };
  const v = value();
  ws();
  if (i < s.length) err('unexpected trailing text');
  return v;
}
