import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

/** Every state transition, one file each in lua/. */
export const SCRIPT_NAMES = [
  'enqueue',
  'dequeue',
  'finish',
  'fail',
  'heartbeat',
  'recover',
  'clean-registries',
  'cancel',
  'requeue',
  'delete',
  'empty',
  'birth',
  'death',
  'schedule',
  'scheduler-lock',
  'complete',
  'cron-claim',
  'meta-cas',
  'unpark',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

export type Arg = string | number | Buffer;

/**
 * How scripts reach Redis. 'functions': one library loaded with FUNCTION
 * LOAD, one FCALL per call (Redis >= 7); 'eval': EVALSHA of each script with
 * the includes it lists (any Redis). 'auto' (the default) takes functions
 * where the server has them.
 */
export type ScriptsMode = 'functions' | 'eval' | 'auto';

function findLuaDir(): string {
  // src/engine (tsx) and dist/src/engine (compiled) both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'lua');
    try {
      readdirSync(join(candidate, 'include'));
      return candidate;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('openvle-rq: cannot find the lua/ directory');
}

/** The `-- name: a b c` words of a file's leading comment block. */
function headerWords(text: string, name: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('--')) break;
    const m = new RegExp(`^--\\s*${name}:\\s*(.*)$`).exec(line);
    if (m) out.push(...m[1]!.trim().split(/\s+/).filter(Boolean));
  }
  return out;
}

/** One lua/ directory, read and resolved: what both loading modes are built from. */
export interface LuaSet {
  /** include name -> its text */
  includes: Map<string, string>;
  /** script name -> its body (the file as written) */
  bodies: Map<ScriptName, string>;
  /** script name -> the includes it needs, each once, every include after those it lists */
  order: Map<ScriptName, string[]>;
}

/**
 * Reads a lua/ directory. A script (or an include) names what it needs in a
 * header line `-- include: a b` (files lua/include/a.lua, b.lua); a script
 * without one gets every include (as a lua/ copy from before the split into
 * includes gets its common.lua).
 */
export function readLua(luaDir: string): LuaSet {
  const includes = new Map<string, string>();
  for (const f of readdirSync(join(luaDir, 'include'))) {
    if (f.endsWith('.lua')) includes.set(f.slice(0, -4), readFileSync(join(luaDir, 'include', f), 'utf8'));
  }
  const bodies = new Map<ScriptName, string>();
  const order = new Map<ScriptName, string[]>();
  for (const n of SCRIPT_NAMES) {
    const body = readFileSync(join(luaDir, `${n}.lua`), 'utf8');
    bodies.set(n, body);
    const wanted = /^--\s*include:/m.test(body) ? headerWords(body, 'include') : [...includes.keys()].sort();
    order.set(n, resolveIncludes(n, wanted, includes));
  }
  return { includes, bodies, order };
}

/** Depth-first: an include comes after everything it lists; a cycle is an error. */
function resolveIncludes(script: string, wanted: string[], includes: Map<string, string>): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: string) => {
    const st = state.get(name);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`lua: include cycle through ${name} (from ${from})`);
    const text = includes.get(name);
    if (text === undefined) throw new Error(`lua: ${from} includes ${name}, but lua/include/${name}.lua does not exist`);
    state.set(name, 'visiting');
    for (const dep of headerWords(text, 'include')) visit(dep, `include/${name}.lua`);
    state.set(name, 'done');
    out.push(name);
  };
  for (const w of wanted) visit(w, `${script}.lua`);
  return out;
}

/**
 * Statements an include asks to run at the start of every call, before the
 * script's own code (`-- per-call: take_clock()`): the clock must be read per
 * call, and a function library's top level runs once, at load.
 */
function perCall(set: LuaSet, names: string[]): string {
  return names.flatMap((n) => headerWords(set.includes.get(n)!, 'per-call').join(' ') || []).join('\n');
}

/**
 * The prelude a script listing `wanted` gets: those includes and theirs, in
 * order, then their per-call statements (bench/lua-pieces.ts times it).
 */
export function includeText(set: LuaSet, wanted: string[]): string {
  return prelude(set, resolveIncludes('prelude', wanted, set.includes));
}

function prelude(set: LuaSet, names: string[]): string {
  const parts = names.map((n) => `-- include/${n}.lua\n${set.includes.get(n)!}`);
  return `${parts.join('\n')}\n${perCall(set, names)}`;
}

/** The text EVAL runs for `name`: its includes, their per-call statements, then the script. */
export function evalSource(set: LuaSet, name: ScriptName): string {
  return `${prelude(set, set.order.get(name)!)}\n-- ${name}.lua\n${set.bodies.get(name)!}`;
}

/** The function library built from a lua/ set: its name, its functions' names and its text. */
export interface Library {
  name: string;
  functions: Map<ScriptName, string>;
  code: string;
}

/**
 * One library for every script: each include defined once at its top level,
 * one registered function per script. ARGV is a library-level local that each
 * function sets first (helpers read it as the scripts' global ARGV), then the
 * per-call statements of the includes it lists (the clock). Redis runs one
 * function at a time, so these shared locals are never seen half-set.
 *
 * The library's name and its functions' names carry a hash of its text: two
 * versions of openvle-rq sharing a Redis (a rolling upgrade) load two
 * libraries side by side, and neither calls the other's scripts.
 */
export function buildLibrary(set: LuaSet): Library {
  const all: string[] = [];
  for (const n of SCRIPT_NAMES) for (const i of set.order.get(n)!) if (!all.includes(i)) all.push(i);
  // every include after those it lists, across scripts too
  const ordered = resolveIncludes('library', all, set.includes);
  const fnName = (n: ScriptName) => `openvle_rq_@HASH@_${n.replace(/-/g, '_')}`;
  const parts = [`#!lua name=openvle_rq_@HASH@`, 'local ARGV'];
  for (const i of ordered) parts.push(`-- include/${i}.lua`, set.includes.get(i)!);
  for (const n of SCRIPT_NAMES) {
    parts.push(
      `redis.register_function('${fnName(n)}', function(_, argv)`,
      'ARGV = argv',
      perCall(set, set.order.get(n)!),
      // not EVAL's '-- <name>.lua' line: scriptWireMarkers tells the two apart
      `-- function of ${n}.lua`,
      set.bodies.get(n)!,
      'end)',
    );
  }
  const template = parts.join('\n');
  const hash = createHash('sha1').update(template).digest('hex').slice(0, 8);
  return {
    name: `openvle_rq_${hash}`,
    functions: new Map(SCRIPT_NAMES.map((n) => [n, fnName(n).replace('@HASH@', hash)])),
    code: template.replaceAll('@HASH@', hash),
  };
}

/** A lua/ directory built for both modes. */
interface Built {
  evalSources: Map<ScriptName, string>;
  library: Library;
}

function build(set: LuaSet): Built {
  return { evalSources: new Map(SCRIPT_NAMES.map((n) => [n, evalSource(set, n)])), library: buildLibrary(set) };
}

let loaded: Built | undefined;

/** This package's scripts, read and built once per process. */
function own(): Built {
  if (!loaded) loaded = build(readLua(findLuaDir()));
  return loaded;
}

/** Script texts as EVAL runs them, read once per process. */
export function scriptSources(): Map<ScriptName, string> {
  return own().evalSources;
}

/** The function library this package loads. */
export function scriptLibrary(): Library {
  return own().library;
}

/**
 * What identifies a call of `name` on the wire (RESP), in either mode: its
 * SHA and its text's marker (EVALSHA, or EVAL after a NOSCRIPT), its function
 * name as an argument of its own (FCALL; FUNCTION LOAD's text holds the name
 * inside one larger argument, so it does not match).
 */
export function scriptWireMarkers(name: ScriptName): string[] {
  const src = scriptSources().get(name)!;
  const fn = scriptLibrary().functions.get(name)!;
  return [createHash('sha1').update(src).digest('hex'), `\n-- ${name}.lua\n`, `$${fn.length}\r\n${fn}\r\n`];
}

function envMode(): ScriptsMode {
  const v = process.env.OPENVLE_RQ_SCRIPTS ?? 'auto';
  if (v !== 'functions' && v !== 'eval' && v !== 'auto') {
    throw new Error(`OPENVLE_RQ_SCRIPTS must be functions, eval or auto, not ${JSON.stringify(v)}`);
  }
  return v;
}

/** Per connection: the mode asked for, the mode in use, the library load under way. */
interface ConnState {
  wanted: ScriptsMode;
  mode: 'functions' | 'eval' | undefined;
  loading: Promise<'functions' | 'eval'> | undefined;
  /** bumped by every (re)load: a call that failed under an older load just waits for the newer one */
  gen: number;
  evalDefined: boolean;
  /** this package's scripts, unless useLuaDir chose others */
  src: Built;
}

const states = new WeakMap<Redis, ConnState>();

function stateOf(redis: Redis): ConnState {
  let st = states.get(redis);
  if (!st) {
    st = { wanted: envMode(), mode: undefined, loading: undefined, gen: 0, evalDefined: false, src: own() };
    states.set(redis, st);
  }
  return st;
}

/**
 * Chooses how `redis` runs scripts, overriding OPENVLE_RQ_SCRIPTS for this
 * connection (before its first script call, or it reloads on the next).
 */
export function setScriptsMode(redis: Redis, mode: ScriptsMode): void {
  const st = stateOf(redis);
  st.wanted = mode;
  st.mode = undefined;
  st.loading = undefined;
}

/**
 * Makes `redis` run the scripts of another lua/ directory (bench/lua-ab.ts
 * compares two), in either mode; before its first script call.
 */
export function useLuaDir(redis: Redis, luaDir: string): void {
  stateOf(redis).src = build(readLua(luaDir));
}

/** The mode `redis` runs scripts in, once its first call has settled it. */
export function scriptsModeOf(redis: Redis): 'functions' | 'eval' | undefined {
  return states.get(redis)?.mode;
}

// A server without Functions (Redis < 7) or an ACL that forbids FUNCTION LOAD.
const NO_FUNCTIONS = /unknown command|unknown subcommand|NOPERM|no permissions/i;

function load(redis: Redis, st: ConnState): Promise<'functions' | 'eval'> {
  st.gen++;
  const p = (async (): Promise<'functions' | 'eval'> => {
    if (st.wanted === 'eval') return 'eval';
    try {
      // REPLACE: loading the same text again (another connection did) is no error.
      await redis.call('FUNCTION', 'LOAD', 'REPLACE', st.src.library.code);
      return 'functions';
    } catch (err) {
      if (st.wanted === 'auto' && NO_FUNCTIONS.test((err as Error).message ?? '')) return 'eval';
      throw err;
    }
  })();
  st.loading = p;
  p.then(
    (m) => {
      if (st.loading === p) st.mode = m;
    },
    () => {
      // the next call tries again (e.g. the connection was down)
      if (st.loading === p) st.loading = undefined;
    },
  );
  return p;
}

function isFunctionNotFound(err: unknown): boolean {
  return /Function not found/i.test((err as Error)?.message ?? '');
}

function commandName(name: ScriptName): string {
  return 'rq_' + name.replace(/-/g, '_');
}

/**
 * EVALSHA through ioredis' defineCommand: the script's full text (EVAL) the
 * first time a connection's socket calls it, then its SHA; after a NOSCRIPT
 * (e.g. a Redis restart) the full text again.
 */
function evalCall(redis: Redis, st: ConnState, name: ScriptName, args: Arg[], buffer: boolean): Promise<unknown> {
  if (!st.evalDefined) {
    for (const [n, lua] of st.src.evalSources) redis.defineCommand(commandName(n), { numberOfKeys: 0, lua });
    st.evalDefined = true;
  }
  const fn = (redis as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[commandName(name) + (buffer ? 'Buffer' : '')]!;
  return fn.apply(redis, args);
}

function fcall(redis: Redis, st: ConnState, name: ScriptName, args: Arg[], buffer: boolean): Promise<unknown> {
  const fn = st.src.library.functions.get(name)!;
  return buffer ? redis.callBuffer('FCALL', fn, 0, ...args) : redis.call('FCALL', fn, 0, ...args);
}

function run(redis: Redis, name: ScriptName, args: Arg[], buffer: boolean): Promise<unknown> {
  const st = stateOf(redis);
  if (st.mode === 'eval') return evalCall(redis, st, name, args, buffer);
  if (st.mode === undefined) {
    return (st.loading ?? load(redis, st)).then(() => run(redis, name, args, buffer));
  }
  const gen = st.gen;
  return fcall(redis, st, name, args, buffer).catch((err: unknown) => {
    // The library is gone: Redis restarted without persistence, FUNCTION
    // FLUSH, a replica without it promoted. Load it again (once for all the
    // calls that failed so) and retry this call once. The call did not run,
    // and a retried call that did run is a resend, which every script takes.
    if (!isFunctionNotFound(err)) throw err;
    const reloaded = st.gen === gen || !st.loading ? load(redis, st) : st.loading;
    return reloaded.then((m) => (m === 'eval' ? evalCall(redis, st, name, args, buffer) : fcall(redis, st, name, args, buffer)));
  });
}

/** Calls a script with string replies. */
export function runScript(redis: Redis, name: ScriptName, args: Arg[]): Promise<unknown> {
  return run(redis, name, args, false);
}

/** Calls a script with Buffer replies (job hashes carry binary `data`). */
export function runScriptBuffer(redis: Redis, name: ScriptName, args: Arg[]): Promise<unknown> {
  return run(redis, name, args, true);
}
