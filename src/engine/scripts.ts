import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

/** Every state transition, one file each in lua/. */
const SCRIPT_NAMES = [
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

type Arg = string | number | Buffer;
export type ScriptCaller = (name: ScriptName, args: Arg[]) => Promise<unknown>;

function findLuaDir(): string {
  // src/engine (tsx) and dist/src/engine (compiled) both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'lua');
    try {
      readFileSync(join(candidate, 'include', 'common.lua'));
      return candidate;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('openvle-rq: cannot find the lua/ directory');
}

let sources: Map<ScriptName, string> | undefined;

/** Script texts with the shared include prepended, read once per process. */
export function scriptSources(): Map<ScriptName, string> {
  if (!sources) {
    const luaDir = findLuaDir();
    const common = readFileSync(join(luaDir, 'include', 'common.lua'), 'utf8');
    sources = new Map(
      SCRIPT_NAMES.map((n) => [n, `${common}\n-- ${n}.lua\n${readFileSync(join(luaDir, `${n}.lua`), 'utf8')}`]),
    );
  }
  return sources;
}

const defined = new WeakSet<Redis>();

function commandName(name: ScriptName): string {
  return 'rq_' + name.replace(/-/g, '_');
}

/**
 * Registers the scripts on a connection. ioredis sends a script's full text
 * (EVAL) the first time a connection's socket calls it, then its SHA
 * (EVALSHA); after a NOSCRIPT (e.g. a Redis restart) the full text again.
 */
export function ensureScripts(redis: Redis): void {
  if (defined.has(redis)) return;
  for (const [name, lua] of scriptSources()) {
    redis.defineCommand(commandName(name), { numberOfKeys: 0, lua });
  }
  defined.add(redis);
}

/** Calls a script with string replies. */
export function runScript(redis: Redis, name: ScriptName, args: Arg[]): Promise<unknown> {
  ensureScripts(redis);
  const fn = (redis as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[commandName(name)]!;
  return fn.apply(redis, args);
}

/** Calls a script with Buffer replies (job hashes carry binary `data`). */
export function runScriptBuffer(redis: Redis, name: ScriptName, args: Arg[]): Promise<unknown> {
  ensureScripts(redis);
  const fn = (redis as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[commandName(name) + 'Buffer']!;
  return fn.apply(redis, args);
}
